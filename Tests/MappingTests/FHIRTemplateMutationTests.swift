import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping
import TestSupport
import XCTest

/// Seeded random mutations of real FHIR mappings: loading must either succeed or report
/// problems (never crash, never throw an empty error), and a mapping that loads must convert
/// arbitrary measurements without crashing, producing only Observations that read back.
final class FHIRTemplateMutationTests: XCTestCase {

    static let replacements: [JSONValue] = [
        .null, true, "true", 0, -1, 60, 1440, 30, "Hourly", "nonsense", "", " ", 1.5, [], [:],
        ["valueType": "Quantity", "valueName": "hr"], [["code": "x"]], "SampledData", "codeableconcept",
    ]
    static let keys = ["typeName", "TYPENAME", "codes", "value", "valueType", "valueName", "components", "category",
                       "periodInterval", "defaultPeriod", "unit", "text", "extra"]

    func mutate(_ value: JSONValue, _ rng: inout SplitMix64, depth: Int = 0) -> JSONValue {
        if depth > 0, Int.random(in: 0..<30, using: &rng) == 0 {
            return Self.replacements.randomElement(using: &rng) ?? .null
        }
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, member) in object.members {
                switch Int.random(in: 0..<40, using: &rng) {
                case 0: continue  // drop
                case 1: result[key.uppercased()] = member
                case 2: result[Self.keys.randomElement(using: &rng) ?? key] = member
                default: result[key] = mutate(member, &rng, depth: depth + 1)
                }
            }
            if Int.random(in: 0..<30, using: &rng) == 0 {
                result[Self.keys.randomElement(using: &rng) ?? "extra"] = Self.replacements.randomElement(using: &rng) ?? .null
            }
            return .object(result)
        case .array(let elements):
            var result = elements.map { mutate($0, &rng, depth: depth + 1) }
            if !result.isEmpty, Int.random(in: 0..<6, using: &rng) == 0 { result.append(result[0]) }
            if !result.isEmpty, Int.random(in: 0..<6, using: &rng) == 0 { result.removeLast() }
            return .array(result)
        default:
            return value
        }
    }

    func testMutatedMappingsLoadOrReportAndConvertSafely() throws {
        guard let suite = try Conformance.directory("iomt") else { return }
        let cases = suite.appendingPathComponent("cases")
        var sources: [JSONValue] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: cases.path).sorted() {
            let url = cases.appendingPathComponent(name).appendingPathComponent("fhir-template.json")
            guard let data = try? Data(contentsOf: url) else { continue }
            sources.append(try JSONValue(parsing: Array(data)))
        }
        XCTAssertGreaterThan(sources.count, 5)
        var rng = SplitMix64(seed: 0x5EED_F41A)
        var loaded = 0, rejected = 0, observations = 0
        let start = Timestamp(Timestamp.Components(year: 2019, month: 2, day: 1, hour: 22))
        let typeNames = ["heartrate", "bloodpressure", "steps", "bodyMass", "alarmEvent", "stringDetail", "deviceRemoved", "HEARTRATE"]
        let valueNames = ["hr", "systolic", "diastolic", "steps", "bodyMass", "alarm", "reason", "reasonText", "deviceRemoved"]
        let values = ["60", "1,000", "-2.5", "abc", "", " ", "E", "98.43639286275842"]
        for iteration in 0..<1000 {
            let source = sources[iteration % sources.count]
            var text = JSONWriter().string(mutate(source, &rng))
            if Int.random(in: 0..<25, using: &rng) == 0 {
                text = String(text.prefix(Int.random(in: 0...text.count, using: &rng)))
            }
            let templates: FHIRTemplateCollection
            do {
                templates = try FHIRTemplateCollection(parsing: text, source: "mutant-\(iteration)")
                loaded += 1
            } catch {
                XCTAssertFalse(error.problems.isEmpty, "iteration \(iteration): an error without problems")
                rejected += 1
                continue
            }
            var batch: [Mapping.Measurement] = []
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                let properties = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                    Mapping.Measurement.Property(
                        name: valueNames.randomElement(using: &rng) ?? "hr", value: values.randomElement(using: &rng) ?? "1")
                }
                batch.append(Mapping.Measurement(
                    type: typeNames.randomElement(using: &rng) ?? "hr",
                    occurrenceTime: start.adding(milliseconds: Int64.random(in: -3_600_000...7_200_000, using: &rng)),
                    ingestionTime: Timestamp(millisecondsSinceEpoch: Int64.random(in: 0...3, using: &rng)),
                    deviceId: ["d1", "d2"].randomElement(using: &rng) ?? "d1",
                    patientId: [nil, "p1", ""].randomElement(using: &rng) ?? nil,
                    correlationId: [nil, "c1"].randomElement(using: &rng) ?? nil,
                    properties: properties))
            }
            let identity: ResourceIdentity = iteration % 2 == 0 ? .none : .create(deviceSystem: nil)
            let result = ObservationConverter(templates: templates, identity: identity).convert(batch, issued: start)
            for observation in result.observations {
                observations += 1
                XCTAssertEqual(try Observation(json: observation.json), observation, "iteration \(iteration)")
            }
            for error in result.errors {
                XCTAssertFalse(error.type.isEmpty)
                XCTAssertFalse(error.measurements.isEmpty, "iteration \(iteration): \(error)")
            }
        }
        print("FHIR template mutations: \(loaded) loaded, \(rejected) rejected, \(observations) observations")
        XCTAssertGreaterThan(loaded, 20, "the mutations should leave some mappings valid")
        XCTAssertGreaterThan(rejected, 20, "the mutations should break some mappings")
    }
}
