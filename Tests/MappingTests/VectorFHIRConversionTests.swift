import FHIRConventions
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
@testable import Mapping
import TestSupport
import XCTest

/// The function-level IoMT vectors for the FHIR side: SampledData streams, observation
/// grouping, deterministic ids and the accepted FHIR template type names.
final class VectorFHIRConversionTests: XCTestCase {
    private func vectors(_ name: String) throws -> JSONValue? {
        guard let suite = try Conformance.directory("iomt") else { return nil }
        let url = suite.appendingPathComponent("vectors").appendingPathComponent(name)
        return try JSONValue(parsing: Array(try Data(contentsOf: url)))
    }

    private func instant(_ json: JSONValue?, file: StaticString = #filePath, line: UInt = #line) -> Timestamp {
        guard let text = json?.stringValue, let t = Timestamp(parsingISO8601Lenient: text) else {
            XCTFail("not a date-time: \(String(describing: json))", file: file, line: line)
            return Timestamp(millisecondsSinceEpoch: 0)
        }
        return t
    }

    private func timedValues(_ json: JSONValue?) -> [TimedValue] {
        (json?.arrayValue ?? []).map { pair in
            TimedValue(time: instant(pair.arrayValue?.first), value: pair.arrayValue?.last?.stringValue ?? "")
        }
    }

    // MARK: SampledData

    func testSampledDataVectors() throws {
        guard let file = try vectors("sampleddata-processor.json") else { return }
        let all = file["vectors"]?.arrayValue ?? []
        XCTAssertEqual(all.count, 16)
        for vector in all {
            let name = vector["name"]?.stringValue ?? "?"
            let period = Int64(vector["periodMs"]?.doubleValue ?? 0)
            switch vector["op"]?.stringValue {
            case "build":
                let data = SampledDataStream.encode(
                    timedValues(vector["values"]), start: instant(vector["start"]), end: instant(vector["end"]),
                    periodMilliseconds: period)
                XCTAssertEqual(data, vector["expected"]?.stringValue, name)
            case "toTimeValues":
                let values = SampledDataStream.decode(
                    vector["stream"]?.stringValue ?? "", start: instant(vector["start"]), periodMilliseconds: period)
                XCTAssertEqual(values, timedValues(vector["expected"]), name)
            case "merge":
                let merged = SampledDataStream.merge(existing: timedValues(vector["existing"]), new: timedValues(vector["new"]))
                XCTAssertEqual(merged, timedValues(vector["expected"]), name)
            default:
                XCTFail("unknown op in \(name)")
            }
        }
    }

    // MARK: Grouping

    private func measurements(_ json: JSONValue?, correlationId: String? = nil) -> [Mapping.Measurement] {
        (json?.arrayValue ?? []).map { m in
            Mapping.Measurement(
                type: "t", occurrenceTime: instant(m["OccurrenceTimeUtc"]), deviceId: "d", correlationId: correlationId,
                properties: (m["Properties"]?.arrayValue ?? []).map {
                    .init(name: $0["Name"]?.stringValue ?? "", value: $0["Value"]?.stringValue ?? "")
                })
        }
    }

    func testTimePeriodGroupVectors() throws {
        guard let file = try vectors("observation-grouping.json") else { return }
        let cases = file["timePeriodGroups"]?.arrayValue ?? []
        XCTAssertEqual(cases.count, 4)
        for vector in cases {
            let name = vector["name"]?.stringValue ?? "?"
            let interval = ObservationPeriodInterval(minutes: Int(vector["periodInterval"]?.doubleValue ?? 99))
            let groups = try interval.observationGroups(measurements(vector["measurements"]), correlationId: nil)
            let expected = vector["expectedGroups"]?.arrayValue ?? []
            XCTAssertEqual(groups.count, expected.count, name)
            for (group, wanted) in zip(groups, expected) {
                XCTAssertEqual(group.start, instant(wanted["start"]), name)
                XCTAssertEqual(group.end, instant(wanted["end"]), name)
                guard let values = wanted["values"]?.objectValue else { XCTFail(name); continue }
                for (property, series) in values.members {
                    XCTAssertEqual(group.values(named: property), timedValues(series), "\(name) \(property)")
                }
            }
        }
    }

    func testValuesSortedPerPropertyVector() throws {
        guard let file = try vectors("observation-grouping.json"), let vector = file["valuesSortedPerProperty"] else { return }
        var group = ObservationGroup(start: Timestamp(millisecondsSinceEpoch: 0), end: Timestamp(millisecondsSinceEpoch: 0), segment: "")
        for m in measurements(vector["measurements"]) { group.add(m) }
        for (property, series) in vector["expectedValues"]?.objectValue?.members.map({ ($0, $1) }) ?? [] {
            XCTAssertEqual(group.values(named: property), timedValues(series), property)
        }
    }

    func testIdSegmentAndCorrelationVectors() throws {
        guard let file = try vectors("observation-grouping.json") else { return }
        for vector in file["idSegments"]?.arrayValue ?? [] {
            if vector["kind"]?.stringValue == "correlation" {
                let id = vector["correlationId"]?.stringValue ?? ""
                let groups = try ObservationPeriodInterval.correlationId.observationGroups(
                    measurements([["OccurrenceTimeUtc": "2019-01-01T00:00:00Z", "Properties": []]], correlationId: id), correlationId: id)
                XCTAssertEqual(groups.map(\.segment), [vector["expected"]?.stringValue ?? "?"])
            } else {
                XCTAssertEqual(
                    ObservationPeriodInterval.segment(start: instant(vector["start"]), end: instant(vector["end"])),
                    vector["expected"]?.stringValue)
            }
        }
        let boundary = try XCTUnwrap(file["correlationBoundary"])
        let times = (boundary["measurementTimes"]?.arrayValue ?? []).map { JSONValue.object(["OccurrenceTimeUtc": $0, "Properties": []]) }
        let groups = try ObservationPeriodInterval.correlationId.observationGroups(
            measurements(.array(times), correlationId: "c"), correlationId: "c")
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(groups.first?.start, instant(boundary["expected"]?["start"]))
        XCTAssertEqual(groups.first?.end, instant(boundary["expected"]?["end"]))
    }

    // MARK: Identity

    func testIdentityHashVectors() throws {
        guard let file = try vectors("identity-hashes.json") else { return }
        let system = try XCTUnwrap(file["connectorSystem"]?.stringValue)
        XCTAssertEqual(system, ResourceIds.connectorSystem)
        let resources = file["resourceIds"]?.arrayValue ?? []
        XCTAssertEqual(resources.count, 5)
        for vector in resources {
            let id = ResourceIds.hashedId(
                system: vector["identifier"]?["system"]?.stringValue, value: vector["identifier"]?["value"]?.stringValue ?? "")
            XCTAssertEqual(id, vector["expectedId"]?.stringValue, vector["hashInput"]?.stringValue ?? "")
        }
        for vector in file["observations"]?.arrayValue ?? [] {
            let value = try XCTUnwrap(vector["identifier"]?["value"]?.stringValue)
            XCTAssertEqual(ResourceIds.hashedId(system: system, value: value), vector["id"]?.stringValue)
        }
    }

    /// The second observation vector end to end: Lookup-mode resource ids and a correlation group.
    func testLookupModeCorrelationIdentifier() throws {
        guard let file = try vectors("identity-hashes.json"), let vector = file["observations"]?.arrayValue?.last else { return }
        let templates = try FHIRTemplateCollection(parsing: """
            {"templateType":"CollectionFhir","template":[{"templateType":"CodeValueFhir","template":{
              "typeName":"bloodpressure","periodInterval":-1,"codes":[],
              "value":{"valueType":"String","valueName":"note"}}}]}
            """, source: "inline")
        let converter = ObservationConverter(templates: templates, identity: .resolving { key in
            key.deviceId == "dev-1" ? .init(patientResourceId: "patientId", deviceResourceId: "deviceId") : nil
        })
        let reading = Mapping.Measurement(
            type: "bloodpressure", occurrenceTime: Timestamp(secondsSinceEpoch: 1_546_300_800), deviceId: "dev-1",
            patientId: "p", correlationId: "corr-7", properties: [.init(name: "note", value: "x")])
        let result = converter.convert([reading], issued: Timestamp(secondsSinceEpoch: 0))
        XCTAssertEqual(result.errors.count, 0)
        let observation = try XCTUnwrap(result.observations.first)
        XCTAssertEqual(observation.identifier.first?.value, vector["identifier"]?["value"]?.stringValue)
        XCTAssertEqual(observation.id, vector["id"]?.stringValue)
        XCTAssertEqual(observation.subject?.reference, "Patient/patientId")
        XCTAssertEqual(observation.device?.reference, "Device/deviceId")

        var unknown = reading
        unknown.deviceId = "dev-2"
        let failed = converter.convert([unknown], issued: Timestamp(secondsSinceEpoch: 0))
        XCTAssertEqual(failed.observations.count, 0)
        XCTAssertEqual(failed.errors.map(\.type), ["FhirResourceNotFoundException"])
    }

    // MARK: Type names

    private func collection(root: String, template: String, valueType: String) -> String {
        """
        {"templateType":"\(root)","template":[{"templateType":"\(template)","template":{
          "typeName":"t","codes":[{"code":"c","system":"s"}],
          "value":{"valueType":"\(valueType)","valueName":"v","unit":"u"}}}]}
        """
    }

    func testTemplateTypeNameVectors() throws {
        guard let file = try vectors("template-type-names.json") else { return }
        let roots = file["fhirMappingRoot"]?["accepts"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let kinds = file["fhirTemplates"]?.arrayValue?.first?["accepts"]?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertFalse(roots.isEmpty)
        XCTAssertFalse(kinds.isEmpty)
        for root in roots + ["collectionfhir"] {
            for kind in kinds + ["codevaluefhir"] {
                XCTAssertNoThrow(try FHIRTemplateCollection(parsing: collection(root: root, template: kind, valueType: "Quantity"), source: "v"), "\(root)/\(kind)")
            }
        }
        let valueTypes = file["valueTypes"]?["accepts"]?.objectValue
        for (_, spellings) in valueTypes?.members.map({ ($0, $1) }) ?? [] {
            for spelling in spellings.arrayValue?.compactMap(\.stringValue) ?? [] {
                let text = collection(root: "CollectionFhir", template: "CodeValueFhir", valueType: spelling)
                    .replacingOccurrences(of: ",\"unit\":\"u\"", with: spelling.lowercased() == "sampleddata" || spelling.lowercased() == "quantity" ? ",\"unit\":\"u\"" : "")
                XCTAssertNoThrow(try FHIRTemplateCollection(parsing: text, source: "v"), spelling)
            }
        }
        for wrongRoot in ["CollectionContent", "CollectionContentTemplate", "", "CollectionFhirTemplates"] {
            XCTAssertThrowsError(try FHIRTemplateCollection(parsing: collection(root: wrongRoot, template: "CodeValueFhir", valueType: "Quantity"), source: "v")) { error in
                XCTAssertTrue(String(describing: error).contains("Expected TemplateType value CollectionFhirTemplate"), "\(error)")
            }
        }
        XCTAssertThrowsError(try FHIRTemplateCollection(parsing: collection(root: "CollectionFhir", template: "JsonPathContent", valueType: "Quantity"), source: "v")) { error in
            XCTAssertTrue(String(describing: error).contains("No match found for template type JsonPathContent"), "\(error)")
        }
        XCTAssertThrowsError(try FHIRTemplateCollection(parsing: collection(root: "CollectionFhir", template: "CodeValueFhir", valueType: "Boolean"), source: "v"))
    }
}
