import FHIRConventions
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
@testable import Mapping
import TestSupport
import XCTest

/// `Observation.writeJSON(into:)` skips the JSONValue tree; it must print exactly the bytes
/// `JSONWriter().write(observation.json)` prints, for every shape an Observation can take.
final class ObservationBytesTests: XCTestCase {
    /// Every Observation the IoMT cases produce (with and without Create-mode identity), and every
    /// Observation the cases expect, read back from its JSON (these carry extension elements).
    func testIoMTCaseObservationsWriteTheTreeBytes() throws {
        guard let suite = try Conformance.directory("iomt") else { return }
        let casesDirectory = suite.appendingPathComponent("cases")
        var compared = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: casesDirectory.path).sorted() {
            let directory = casesDirectory.appendingPathComponent(name)
            let expected = try Self.json(directory.appendingPathComponent("expected.json"))
            guard expected["stage"]?.stringValue == "normalize+fhir" else { continue }
            let device = try DeviceTemplateCollection(
                parsing: String(contentsOf: directory.appendingPathComponent("device-template.json"), encoding: .utf8), source: name)
            let templates = try FHIRTemplateCollection(
                parsing: String(contentsOf: directory.appendingPathComponent("fhir-template.json"), encoding: .utf8), source: name)
            let input = try Self.json(directory.appendingPathComponent("input.json"))
            let measurements = try (input.arrayValue ?? [input]).flatMap { try device.normalize($0) }
            for identity in [ResourceIdentity.none, .create(deviceSystem: nil), .create(deviceSystem: "urn:example")] {
                let result = ObservationConverter(templates: templates, identity: identity)
                    .convert(measurements, issued: Timestamp(millisecondsSinceEpoch: 1_700_000_000_123))
                for observation in result.observations {
                    assertSameBytes(observation, "\(name) converted")
                    compared += 1
                }
            }
            for wanted in Self.expectedObservations(expected["fhir"]?["observations"]) {
                let observation = try Observation(json: wanted)
                assertSameBytes(observation, "\(name) expected")
                compared += 1
            }
        }
        print("Observation bytes: \(compared) IoMT Observations written alike directly and through the tree")
        XCTAssertGreaterThanOrEqual(compared, 25, "the IoMT cases should yield Observations to compare")
    }

    /// Shapes the gateway does not produce itself but a caller may build.
    func testUnusualShapesWriteTheTreeBytes() throws {
        let concept = CodeableConcept(coding: [Coding(system: "http://loinc.org", code: "8867-4")], text: "tab\there \"quoted\" é")
        var observation = Observation(
            id: "", identifier: [Identifier(), Identifier(value: "a")], status: .final,
            category: [CodeableConcept(), concept, CodeableConcept(coding: [Coding()])], code: CodeableConcept(),
            subject: Reference(), encounter: Reference(identifier: Identifier()),
            effectivePeriod: Period(start: "2025-01-01T00:00:00.000Z"), issued: "",
            value: .quantity(Quantity()), device: Reference(identifier: Identifier(system: "s", value: "d")),
            component: [
                Observation.Component(code: CodeableConcept()),
                Observation.Component(code: concept, value: .string("")),
                Observation.Component(code: concept, value: .other(elementName: "code", .int(1))),
                Observation.Component(code: concept, value: .other(elementName: "valueBoolean", .bool(true))),
                Observation.Component(code: concept, otherElements: ["note": .string("n"), "code": .null]),
            ])
        assertSameBytes(observation, "empty elements")

        for text in ["72.50", "1e3", "-0", "12345678901234567890", "0.1", "-12", "98.43639286275842"] {
            let decimal = try XCTUnwrap(FHIRDecimal(text))
            observation.value = .quantity(Quantity(value: decimal, unit: "u"))
            assertSameBytes(observation, "decimal \(text)")
            observation.value = .sampledData(SampledData(
                origin: Quantity(), period: decimal, factor: decimal, lowerLimit: decimal, upperLimit: nil, dimensions: 2, data: "1 E 2"))
            assertSameBytes(observation, "sampled data \(text)")
        }
        observation.value = .codeableConcept(CodeableConcept())
        assertSameBytes(observation, "empty concept value")
        observation.value = .other(elementName: "valueInteger", .int(-5))
        assertSameBytes(observation, "other value")
        // A value[x] named like a modelled element replaces it in the tree, in place.
        observation.value = .other(elementName: "status", .string("overridden"))
        assertSameBytes(observation, "clashing value name")
        observation.value = .string("x")
        observation.otherElements = ["meta": ["versionId": "2"], "note": [["text": "n"]], "status": "ignored", "id": .null]
        assertSameBytes(observation, "extension elements")
    }

    /// Observation ids start from a precomputed SHA-256 state for the connector system; they must
    /// equal the plain hash at every identifier length around the block boundaries.
    func testObservationIdsEqualThePlainHash() {
        for length in 0...200 {
            let value = String(repeating: "x", count: length)
            XCTAssertEqual(
                ResourceIdentity.observationId(identifierValue: value),
                ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value), "length \(length)")
        }
    }

    private func assertSameBytes(_ observation: Observation, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        var tree: [UInt8] = [], direct: [UInt8] = [0x20]
        JSONWriter().write(observation.json, into: &tree)
        observation.writeJSON(into: &direct)
        // writeJSON appends: the byte already in the buffer must stay in front.
        XCTAssertEqual(direct.first, 0x20, label, file: file, line: line)
        XCTAssertEqual(String(decoding: direct.dropFirst(), as: UTF8.self), String(decoding: tree, as: UTF8.self), label, file: file, line: line)
    }

    private static func expectedObservations(_ json: JSONValue?) -> [JSONValue] {
        guard let elements = json?.arrayValue else { return [] }
        // Per-message cases list one array of Observations per message.
        return elements.flatMap { $0.arrayValue ?? [$0] }.filter { $0["resourceType"]?.stringValue == "Observation" }
    }

    private static func json(_ url: URL) throws -> JSONValue {
        try JSONValue(parsing: String(contentsOf: url, encoding: .utf8))
    }
}
