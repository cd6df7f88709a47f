import EdgeCore
import FHIRModel
import JSONQuery
import Mapping
import Store
import XCTest
@testable import Upstream

/// Conditional creates search `identifier=system|value`, never a bare value that could match
/// another patient's identifier.
final class SelectiveIdentityTests: XCTestCase {
    static let deviceSystem = "urn:example:devices"

    private func uploader(_ fixture: UploadFixture, _ server: IdentityFHIRServer, _ settings: UploadSettings) -> Uploader {
        Uploader(store: fixture.store, client: FHIRClient(baseURL: FakeFHIRServer.base, transport: server), settings: settings,
                 now: fixture.clock.function, sleep: fixture.clock.sleep, randomSeed: 1)
    }

    private static func string(_ object: JSONObject, _ path: String...) -> String? {
        var current: JSONValue = .object(object)
        for key in path {
            guard case .object(let next) = current, let value = next[key] else { return nil }
            current = value
        }
        if case .string(let text) = current { return text }
        return nil
    }

    func testTokenParametersEscapeAndEncodeSystemAndValue() {
        XCTAssertEqual(EntryBuilder.tokenParameter(system: "urn:example:mrn", value: "mrn-1"), "urn:example:mrn|mrn-1")
        XCTAssertEqual(
            EntryBuilder.tokenParameter(system: "http://hl7.org/fhir/sid/eui-48/bluetooth", value: "F0:00:00:00:18:10"),
            "http://hl7.org/fhir/sid/eui-48/bluetooth|F0:00:00:00:18:10")
        // No system: `|value` matches only identifiers without system, not the value in every system.
        XCTAssertEqual(EntryBuilder.tokenParameter(system: nil, value: "mrn-1"), "|mrn-1")
        XCTAssertEqual(EntryBuilder.tokenParameter(system: "", value: "mrn-1"), "|mrn-1")
        // FHIR search escapes first (\ | , $), then percent-encoding; spaces and '&' cannot end the parameter.
        XCTAssertEqual(EntryBuilder.tokenParameter(system: "urn:a b", value: #"x|y,z$w\v&q=1"#),
                       "urn:a%20b|x%5C%7Cy%5C%2Cz%5C%24w%5C%5Cv%26q%3D1")
        XCTAssertEqual(EntryBuilder.tokenParameter(system: "urn:s", value: "a|b", separator: "%7C"), "urn:s%7Ca%5C%7Cb")
        // Identifiers keep their exact text: case and leading zeros are not touched.
        XCTAssertEqual(EntryBuilder.tokenParameter(system: "urn:s", value: "Mrn-007"), "urn:s|Mrn-007")
    }

    func testAnIdentifierWithoutSystemIsSentAsPipeValue() throws {
        let resource = OutboxResource(
            inboxID: nil, resourceType: "Observation", resourceID: "o1", identityKey: "k",
            body: #"{"resourceType":"Observation","identifier":[{"value":"r-1"}]}"#)
        let entry = try XCTUnwrap(EntryBuilder(idempotency: .conditionalCreate, baseURL: "http://fhir.test").entry(for: OutboxItem(
            id: OutboxID(1), resource: resource, attempts: 0)))
        XCTAssertEqual(entry.request?.ifNoneExist, "identifier=|r-1")
    }

    func testConditionalCreateOfAPatientNamesItsSystem() async throws {
        let server = IdentityFHIRServer()
        let fixture = try UploadFixture(server: FakeFHIRServer())
        // The same patient id in two systems: two Patients, never one matched for the other.
        let first = ResourceIdentity.createModePatient(patientId: "0042", system: "urn:hospital-a:mrn")
        let second = ResourceIdentity.createModePatient(patientId: "0042", system: "urn:hospital-b:mrn")
        XCTAssertNotEqual(first.id, second.id)
        XCTAssertEqual(first.id, ResourceIdentity.hashedId(system: "urn:hospital-a:mrn", value: "0042"))
        XCTAssertEqual(first.json["identifier"], [["system": "urn:hospital-a:mrn", "value": "0042"]])
        // Without a system the id stays MedTech's sha256("_" + id), so existing data keeps its ids.
        XCTAssertEqual(ResourceIdentity.createModePatient(patientId: "0042").id, SHA256.hexDigest("_0042"))
        try await fixture.enqueue([first, second].map {
            OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: $0.id!, identityKey: "Patient/" + $0.id!, json: $0.json)
        })
        let drained = try await uploader(fixture, server, UploadSettings(idempotency: .conditionalCreate)).drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let requests = await server.requests
        XCTAssertEqual(requests.map { $0.headers["If-None-Exist"] }, ["identifier=urn:hospital-a:mrn|0042", "identifier=urn:hospital-b:mrn|0042"])
        let patients = await server.resources.keys.filter { $0.hasPrefix("Patient/") }
        XCTAssertEqual(patients.count, 2)
    }
}
