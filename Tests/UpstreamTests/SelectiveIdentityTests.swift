import EdgeCrypto
import FHIRConventions
import EdgeCore
import FHIRModel
import JSONQuery
import Mapping
import Store
import XCTest
@testable import Upstream

/// Conditional creates search `identifier=system|value`, never a bare value that could match
/// another patient's identifier; readings of a room or equipment name their Device as subject.
final class SelectiveIdentityTests: XCTestCase {
    static let deviceSystem = "urn:example:devices"

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
        XCTAssertEqual(first.id, ResourceIds.hashedId(system: "urn:hospital-a:mrn", value: "0042"))
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

    /// A room monitor's Device and Observation as the mapping stage writes them under Create mode.
    private static func roomResources() throws -> (device: Device, [OutboxResource]) {
        let device = ResourceIdentity.createModeDevice(deviceId: "room-101-monitor", system: deviceSystem, patientResourceId: nil)
        let deviceID = try XCTUnwrap(device.id)
        let value = "\(deviceID).\(deviceID).roomtemperature.20261127081501"
        let body = """
            {"resourceType":"Observation","id":"obs-1","identifier":[{"system":"\(ResourceIds.connectorSystem)","value":"\(value)"}],\
            "status":"final","code":{"text":"roomtemperature"},"subject":{"reference":"Device/\(deviceID)"},\
            "device":{"reference":"Device/\(deviceID)"},"valueQuantity":{"value":20.1}}
            """
        return (device, [
            OutboxResource(inboxID: nil, resourceType: "Device", resourceID: deviceID, identityKey: "Device/" + deviceID, json: device.json),
            OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-1",
                           identityKey: ResourceIds.connectorSystem + "|" + value, body: body),
        ])
    }

    func testConditionalCreateOfARoomReadingCreatesOnlyItsDeviceAndPointsSubjectAtIt() async throws {
        let server = IdentityFHIRServer()
        let fixture = try UploadFixture(server: FakeFHIRServer())
        let (device, resources) = try Self.roomResources()
        XCTAssertNil(device.patient, "a room's Device belongs to no patient")
        try await fixture.enqueue(resources)
        let drained = try await uploader(fixture, server, UploadSettings(idempotency: .conditionalCreate)).drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let calls = await server.identityCalls
        XCTAssertEqual(calls, ["POST Device"], "no Patient is created or searched")
        let requests = await server.requests
        XCTAssertEqual(requests.first?.headers["If-None-Exist"], "identifier=urn:example:devices|room-101-monitor")
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.map { Self.string($0, "subject", "reference") }, ["Device/device-srv-1"])
        XCTAssertEqual(sent.map { Self.string($0, "device", "reference") }, ["Device/device-srv-1"])
    }

    func testLookupOfARoomReadingNeedsNoPatient() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-room", system: Self.deviceSystem, value: "room-101-monitor", patient: nil)
        await server.addDevice(id: "dev-bed", system: Self.deviceSystem, value: "bed-monitor", patient: nil)
        let fixture = try UploadFixture(server: FakeFHIRServer())
        func observation(_ device: String, subject: String) -> OutboxResource {
            let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: Self.deviceSystem, deviceId: device)
            let value = "\(placeholder).\(placeholder).roomtemperature.1"
            let body = """
                {"resourceType":"Observation","id":"x","identifier":[{"system":"\(ResourceIds.connectorSystem)","value":"\(value)"}],\
                "status":"final","code":{"text":"roomtemperature"},"subject":{"reference":"\(subject)/\(placeholder)"},\
                "device":{"reference":"Device/\(placeholder)"}}
                """
            return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "x-\(device)",
                                  identityKey: ResourceIds.connectorSystem + "|" + value, body: body)
        }
        try await fixture.enqueue([observation("room-101-monitor", subject: "Device"), observation("bed-monitor", subject: "Patient")])
        _ = try await uploader(fixture, server, UploadSettings()).drain(timeout: .seconds(60))
        let calls = await server.identityCalls
        XCTAssertEqual(calls, ["GET Device?identifier=urn:example:devices%7Croom-101-monitor", "GET Device?identifier=urn:example:devices%7Cbed-monitor"])
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.count, 1, "the room reading goes; the patient reading whose Device has no patient does not")
        let room = try XCTUnwrap(sent.first)
        XCTAssertEqual(Self.string(room, "subject", "reference"), "Device/dev-room")
        XCTAssertEqual(Self.string(room, "device", "reference"), "Device/dev-room")
        guard case .array(let identifiers)? = room["identifier"], case .object(let identifier)? = identifiers.first,
              case .string(let value)? = identifier["value"] else { return XCTFail("no identifier") }
        XCTAssertEqual(value, "dev-room.dev-room.roomtemperature.1")
        XCTAssertEqual(Self.string(room, "id"), ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value))
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.deadLetters, 1, "the patient reading is a dead letter (its Device has no patient)")
    }
}
