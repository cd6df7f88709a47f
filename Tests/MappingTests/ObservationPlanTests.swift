import FHIRConventions
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
@testable import Mapping
import TestSupport
import XCTest

/// A template's compiled plan writes its Observations straight from the holes; every Observation
/// must be the general path's, byte for byte and as a model value, and every group the plan
/// cannot write must take the general path.
final class ObservationPlanTests: XCTestCase {
    private let issued = Timestamp(millisecondsSinceEpoch: 1_700_000_000_123)
    private let hour = Timestamp(Timestamp.Components(year: 2019, month: 2, day: 1, hour: 22))

    private static let identities: [(String, ResourceIdentity)] = [
        ("create", .create(deviceSystem: nil)),
        ("create with systems", .create(deviceSystem: "urn:example:dev", patientSystem: "urn:example:pat")),
        ("create, device subject", .create(deviceSystem: nil, subject: .device)),
        ("lookup", .lookup(deviceSystem: "urn:example")),
        ("lookup, device subject", .lookup(deviceSystem: nil, subject: .device)),
        ("resolving", .resolving { key in
            ResourceIdentity.ResolvedResources(patientResourceId: "p-" + (key.patientId ?? ""), deviceResourceId: "d-" + key.deviceId)
        }),
        ("resolving with an encounter", .resolving { key in
            ResourceIdentity.ResolvedResources(patientResourceId: "p", deviceResourceId: "d", encounterResourceId: "e-" + key.deviceId)
        }),
        ("none", .none),
    ]

    /// Converts with and without plans and compares every Observation; returns how many were planned.
    @discardableResult
    private func assertPlansMatch(
        _ templates: FHIRTemplateCollection, _ measurements: [Mapping.Measurement], identity: ResourceIdentity,
        precision: ObservationIdPrecision = .millisecond, absent: DataAbsentValues = .none, _ label: String,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Int {
        var planning = ObservationConverter(templates: templates, identity: identity, idPrecision: precision)
        planning.dataAbsentValues = absent
        var general = planning
        general.usesPlans = false
        let planned = planning.convert(measurements, issued: issued)
        let built = general.convert(measurements, issued: issued)
        XCTAssertEqual(planned.errors.map(\.description), built.errors.map(\.description), label, file: file, line: line)
        XCTAssertEqual(planned.converted.count, built.converted.count, label, file: file, line: line)
        var count = 0
        for (plan, model) in zip(planned.converted, built.converted) {
            if case .planned = plan.form { count += 1 }
            guard case .built = model.form else {
                XCTFail("\(label): an Observation was planned with plans off", file: file, line: line)
                continue
            }
            for issued in [nil, "2030-01-02T03:04:05.006Z"] as [String?] {
                var a: [UInt8] = [0x20], b: [UInt8] = [0x20]
                plan.writeJSON(into: &a, issued: issued)
                model.writeJSON(into: &b, issued: issued)
                XCTAssertEqual(String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self), label, file: file, line: line)
            }
            XCTAssertEqual(plan.observation, model.observation, label, file: file, line: line)
            XCTAssertEqual(plan.id, model.id, label, file: file, line: line)
            XCTAssertEqual(plan.identityKey, model.identityKey, label, file: file, line: line)
            XCTAssertEqual(plan.subjectReference, model.subjectReference, label, file: file, line: line)
            XCTAssertEqual(plan.deviceReference, model.deviceReference, label, file: file, line: line)
            XCTAssertEqual(plan.period?.start, model.period?.start, label, file: file, line: line)
            XCTAssertEqual(plan.period?.end, model.period?.end, label, file: file, line: line)
        }
        return count
    }

    /// Every IoMT case's measurements, under every identity.
    func testIoMTCaseObservationsArePlannedAsTheGeneralPathBuildsThem() throws {
        guard let suite = try Conformance.directory("iomt") else { return }
        let casesDirectory = suite.appendingPathComponent("cases")
        var compared = 0, planned = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: casesDirectory.path).sorted() {
            let directory = casesDirectory.appendingPathComponent(name)
            let expected = try JSONValue(parsing: String(contentsOf: directory.appendingPathComponent("expected.json"), encoding: .utf8))
            guard expected["stage"]?.stringValue == "normalize+fhir" else { continue }
            let device = try DeviceTemplateCollection(
                parsing: String(contentsOf: directory.appendingPathComponent("device-template.json"), encoding: .utf8), source: name)
            let templates = try FHIRTemplateCollection(
                parsing: String(contentsOf: directory.appendingPathComponent("fhir-template.json"), encoding: .utf8), source: name)
            let input = try JSONValue(parsing: String(contentsOf: directory.appendingPathComponent("input.json"), encoding: .utf8))
            let messages = input.arrayValue ?? [input]
            let measurements = try messages.flatMap { try device.normalize($0) }
            for (label, identity) in Self.identities {
                // The batch together (merges, windows), and each message alone (as the benchmark does).
                planned += assertPlansMatch(templates, measurements, identity: identity, "\(name), \(label)")
                planned += assertPlansMatch(templates, measurements, identity: identity, precision: .second, "\(name), \(label), second ids")
                for message in messages {
                    planned += assertPlansMatch(templates, try device.normalize(message), identity: identity, "\(name), \(label), one message")
                }
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 10 * Self.identities.count, "the IoMT cases should be there")
        XCTAssertGreaterThan(planned, 20, "the IoMT cases' Quantity Observations should be planned")
    }

    private func templates(_ bodies: String...) throws -> FHIRTemplateCollection {
        let items = bodies.map { #"{"templateType":"CodeValueFhir","template":\#($0)}"# }
        return try FHIRTemplateCollection(parsing: #"{"templateType":"CollectionFhir","template":["# + items.joined(separator: ",") + "]}", source: "t")
    }

    private func reading(_ type: String, _ properties: [(String, String)], at offset: Int64 = 0, device: String = "dev-1", patient: String? = "pat-1") -> Mapping.Measurement {
        Mapping.Measurement(
            type: type, occurrenceTime: hour.adding(milliseconds: offset), deviceId: device, patientId: patient,
            properties: properties.map { .init(name: $0.0, value: $0.1) })
    }

    /// Texts that need escaping, decimals of every spelling, windows, categories and components:
    /// planned where the plan's shape holds, built where it does not, the same bytes either way.
    func testShapesAroundThePlanWriteTheGeneralPathsBytes() throws {
        let collection = try templates(
            #"{"typeName":"bp \"cuff\" é","periodInterval":0,"category":[{"codes":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}],"text":"Vital \\ Signs"}],"codes":[{"code":"85354-9","system":"http://loinc.org","display":"BP"}],"value":{"valueType":"Quantity","valueName":"mean","unit":"mmHg"},"components":[{"codes":[{"code":"8480-6","system":"http://loinc.org"}],"value":{"valueType":"Quantity","valueName":"sys","unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"codes":[],"value":{"valueType":"Quantity","valueName":"dia"}}]}"#,
            #"{"typeName":"weight","periodInterval":60,"codes":[{"code":"29463-7","system":"http://loinc.org"}],"value":{"valueType":"Quantity","valueName":"kg"}}"#,
            #"{"typeName":"bare","periodInterval":1440,"codes":[]}"#
        )
        let bp = "bp \"cuff\" é"
        var planned = 0
        for (label, identity) in Self.identities {
            for value in ["72", "72.50", "-0.5", "+1,000.", " 7 ", "0", "007", "12345678901234567890123", "98.43639286275842", ".5"] {
                planned += assertPlansMatch(collection, [reading(bp, [("mean", value), ("sys", "120"), ("dia", value)])], identity: identity, "\(label) \(value)")
            }
            let escaped = [reading(bp, [("mean", "1"), ("sys", "2"), ("dia", "3")], device: "dev\"ice\\1\n\u{1}é", patient: "pa\ttient")]
            planned += assertPlansMatch(collection, escaped, identity: identity, "\(label) escaped ids")
            // Not the plan's shape: the general path, which may fail as it always did.
            for properties in [
                [("mean", "1"), ("sys", "2")], [("mean", "x"), ("sys", "2"), ("dia", "3")], [("sys", "1"), ("dia", "2"), ("mean", "NaN")],
                [("mean", "1"), ("sys", "2"), ("mean", "3"), ("dia", "4")],
            ] {
                assertPlansMatch(collection, [reading(bp, properties)], identity: identity, absent: .ieee11073, "\(label) \(properties)")
            }
            assertPlansMatch(collection, [reading("BP \"CUFF\" é", [("mean", "1"), ("sys", "2"), ("dia", "3")])], identity: identity, "\(label) other casing")
            // An hourly window of one reading, of two, and readings of one second (merged with second ids).
            planned += assertPlansMatch(collection, [reading("weight", [("kg", "70.1")], at: 1234)], identity: identity, "\(label) hourly")
            assertPlansMatch(collection, [reading("weight", [("kg", "70")], at: 1), reading("weight", [("kg", "71")], at: 2)], identity: identity, "\(label) two in an hour")
            let sameSecond = [reading(bp, [("mean", "1"), ("sys", "2"), ("dia", "3")], at: 100), reading(bp, [("mean", "4"), ("sys", "5"), ("dia", "6")], at: 200)]
            planned += assertPlansMatch(collection, sameSecond, identity: identity, "\(label) one second, ms ids")
            assertPlansMatch(collection, sameSecond, identity: identity, precision: .second, "\(label) one second, second ids")
            planned += assertPlansMatch(collection, [reading("bare", [("x", "1")], at: 5)], identity: identity, "\(label) no value")
        }
        XCTAssertGreaterThan(planned, 40, "the Quantity shapes should be planned")
    }

    func testTemplatesWhoseObservationsDifferInShapeHaveNoPlan() throws {
        let collection = try templates(
            #"{"typeName":"q","codes":[],"value":{"valueType":"Quantity","valueName":"v"},"components":[{"codes":[],"value":{"valueType":"Quantity","valueName":"w"}}]}"#,
            #"{"typeName":"s","codes":[],"value":{"valueType":"String","valueName":"v"}}"#,
            #"{"typeName":"sd","periodInterval":60,"codes":[],"value":{"valueType":"SampledData","valueName":"v","defaultPeriod":1000}}"#,
            #"{"typeName":"cc","codes":[],"value":{"valueType":"CodeableConcept","valueName":"v","codes":[{"code":"c"}]}}"#,
            #"{"typeName":"twice","codes":[],"value":{"valueType":"Quantity","valueName":"v"},"components":[{"codes":[],"value":{"valueType":"Quantity","valueName":"v"}}]}"#
        )
        XCTAssertEqual(collection.templates.map { ObservationPlan.compile($0) != nil }, [true, false, false, false, false])
    }
}
