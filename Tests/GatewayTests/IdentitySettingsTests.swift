import FHIRConventions
import Audit
import EdgeCore
import Foundation
import JSONQuery
import Mapping
import Store
import XCTest
@testable import Gateway

/// `profile.yaml` identity settings: the identifier systems conditional create needs (and
/// `config check` insists on), and `subject: device` for readings of a room or equipment.
final class IdentitySettingsTests: XCTestCase {
    let time = Timestamp(millisecondsSinceEpoch: 1_764_000_000_000)

    /// A profiles folder with copies of bundled profiles, `profile.yaml` replaced where given.
    func profiles(_ names: [String: String?], in directory: TemporaryDirectory) throws -> String {
        let folder = directory.path + "/profiles"
        for (name, settings) in names {
            let target = folder + "/" + name
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for file in ["devicecontent.json", "fhirmapping.json", "profile.yaml"] {
                let source = GatewayHTTPTests.profiles + "/" + name + "/" + file
                if FileManager.default.fileExists(atPath: source) { try FileManager.default.copyItem(atPath: source, toPath: target + "/" + file) }
            }
            if let settings {
                try? FileManager.default.removeItem(atPath: target + "/profile.yaml")
                try settings.write(toFile: target + "/profile.yaml", atomically: true, encoding: .utf8)
            }
        }
        return folder
    }

    func load(_ config: String, profiles folder: String, in directory: TemporaryDirectory) throws -> [String] {
        let file = directory.path + "/fhir-edge.yaml"
        try ("dataDir: data\nprofiles: {directory: \(folder)}\n" + config).write(toFile: file, atomically: true, encoding: .utf8)
        switch GatewayLauncher.load(file: file) {
        case .success: return []
        case .failure(let error): return error.problems.map { "\($0.file): \($0.keyPath): \($0.message)" }
        }
    }

    func testConditionalCreateIsRefusedWhileAProfileLacksItsIdentifierSystems() throws {
        let directory = try TemporaryDirectory()
        let folder = try profiles(["demo-vitals": "identity: {mode: create}\n"], in: directory)
        let conditional = "upstream: {url: \"http://127.0.0.1:1/fhir\", idempotency: conditional-create}\n"
        let problems = try load(conditional, profiles: folder, in: directory)
        let file = folder + "/demo-vitals/profile.yaml"
        XCTAssertEqual(problems.count, 2, "\(problems)")
        XCTAssertTrue(problems[0].hasPrefix(file + ": identity.patientSystem: missing; upstream.idempotency conditional-create"), problems[0])
        XCTAssertTrue(problems[0].contains("another patient's identifier"), problems[0])
        XCTAssertTrue(problems[1].hasPrefix(file + ": identity.deviceSystem: missing;"), problems[1])
        // PUT needs no system: ids stay as they are for sites that set none.
        XCTAssertEqual(try load("upstream: {url: \"http://127.0.0.1:1/fhir\"}\n", profiles: folder, in: directory), [])

        try "identity: {mode: create, patientSystem: \"urn:example:mrn\", deviceSystem: \"urn:example:devices\"}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try load(conditional, profiles: folder, in: directory), [])
    }

    func testADeviceSubjectProfileNeedsOnlyADeviceSystemAndNoPatientId() throws {
        let directory = try TemporaryDirectory()
        let folder = try profiles(["modbus-room-monitor": nil], in: directory)
        let modbus = """
            modbus:
              devices:
                room-101-monitor: {profile: modbus-room-monitor, tcp: "127.0.0.1:1502", patientId: patient-0017}

            """
        let conditional = "upstream: {url: \"http://127.0.0.1:1/fhir\", idempotency: conditional-create}\n"
        let problems = try load(conditional + modbus, profiles: folder, in: directory)
        XCTAssertEqual(problems.count, 2, "\(problems)")
        XCTAssertTrue(problems[0].hasPrefix(folder + "/modbus-room-monitor/profile.yaml: identity.deviceSystem: missing; upstream.idempotency conditional-create"), problems[0])
        XCTAssertFalse(problems.contains { $0.contains("patientSystem") }, "a room's readings need no patient system")
        XCTAssertTrue(problems[1].hasSuffix("fhir-edge.yaml: modbus.devices.room-101-monitor.patientId: profile modbus-room-monitor files its readings under the Device (identity.subject: device), so this patient would be ignored; remove patientId, or use a profile whose readings are about a patient"), problems[1])
    }

    func testIdentitySettingsAreReadAndCheckedWithTheirKeyPaths() {
        switch ProfileSettings.decode(yaml: "identity: {patientSystem: \"urn:example:mrn\", deviceSystem: \"http://hl7.org/fhir/sid/eui-48/bluetooth\", subject: device}\n", file: "p.yaml") {
        case .success(let settings):
            XCTAssertEqual(settings.patientSystem, "urn:example:mrn")
            XCTAssertEqual(settings.deviceSystem, "http://hl7.org/fhir/sid/eui-48/bluetooth")
            XCTAssertEqual(settings.subject, .device)
        case .failure(let error):
            XCTFail("\(error)")
        }
        switch ProfileSettings.decode(yaml: "identity: {patientSystem: \"urn:a|b\", deviceSystem: \"urn:x y\", subject: room}\n", file: "p.yaml") {
        case .success:
            XCTFail("a system with '|' or a space, and an unknown subject, must be refused")
        case .failure(let error):
            XCTAssertEqual(Set(error.problems.map(\.keyPath)), ["identity.deviceSystem", "identity.patientSystem", "identity.subject"])
            XCTAssertTrue(error.problems.contains { $0.message.contains("use patient (readings about a patient) or device") })
        }
    }

    func testABTHomeRoomThermometerIsAboutItsDevice() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        XCTAssertEqual(catalog["ble-bthome-room"]?.subject, .device)
        XCTAssertEqual(catalog["ble-bthome"]?.subject, .patient, "the BTHome scale stays on its patient")
        let advert = #"{"deviceId": "F0-00-00-00-FC-D2", "format": "bthome-v2", "time": "2026-11-27T08:15:00.000Z", "timeSource": "receiver", "receivedAt": "2026-11-27T08:15:00.000Z", "values": {"temperature": 21.5}, "units": {"temperature": "Cel"}}"#
        let item = InboxItem(id: InboxID(1), message: InboxMessage(
            profile: ProfileID("ble-bthome-room"), transport: .ble, sourceID: "s", receivedAt: time, payload: Array(advert.utf8)))
        let (result, _) = MappingStage.map([item], catalog: catalog, issued: time)
        XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
        XCTAssertEqual(result.resources.map(\.resourceType), ["Device", "Observation"], "no Patient")
        let observation = try JSONValue(parsing: result.resources[1].body)
        let device = try JSONValue(parsing: result.resources[0].body)
        XCTAssertEqual(observation["subject"]?["reference"], .string("Device/" + (device["id"]?.stringValue ?? "?")))
        XCTAssertEqual(observation["code"]?["coding"]?.arrayValue?.first?["code"], "60832-3")
        XCTAssertNil(device["patient"])
    }

    func testARoomMonitorReadingIsAboutItsDeviceAndMakesNoPatient() async throws {
        let directory = try TemporaryDirectory()
        let clock: @Sendable () -> Timestamp = { [time] in time }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        XCTAssertEqual(catalog["modbus-room-monitor"]?.subject, .device)
        XCTAssertEqual(catalog["modbus-gas-panel"]?.subject, .device)
        XCTAssertEqual(catalog["modbus-patient-room-sensor"]?.subject, .patient, "the bed's sensor stays on its patient")
        // Even a message that names a patient files the room's readings under the Device.
        let payload = #"{"deviceId": "room-101-monitor", "patientId": "patient-0017", "unit": 1, "time": "2026-11-27T08:15:01.000Z", "points": {"temperature": 20.1, "humidity": 45.5, "co2": 425, "probe2_temperature": -20.1}}"#
        _ = try await store.append([InboxMessage(
            profile: ProfileID("modbus-room-monitor"), transport: .http, sourceID: "test", receivedAt: time, payload: Array(payload.utf8))], actor: "test")
        let stage = MappingStage(store: store, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 10, now: clock)
        let mapped = try await stage.mapNextBatch()
        XCTAssertEqual(mapped, 1)
        let lease = try await store.leaseOutbox(limit: 100, for: .seconds(60))
        let types = lease.items.map(\.resource.resourceType)
        XCTAssertEqual(types, ["Device", "Observation", "Observation", "Observation", "Observation"], "no Patient")

        let deviceID = ResourceIds.hashedId(system: nil, value: "room-101-monitor")
        let device = try JSONValue(parsing: lease.items[0].resource.body)
        XCTAssertEqual(device["id"], .string(deviceID))
        XCTAssertEqual(device["identifier"], [["value": "room-101-monitor"]])
        XCTAssertNil(device["patient"], "a room's Device belongs to no patient")
        for item in lease.items.dropFirst() {
            let observation = try JSONValue(parsing: item.resource.body)
            XCTAssertEqual(observation["subject"], ["reference": .string("Device/" + deviceID)])
            XCTAssertEqual(observation["device"], ["reference": .string("Device/" + deviceID)])
            let value = try XCTUnwrap(observation["identifier"]?.arrayValue?.first?["value"]?.stringValue)
            XCTAssertTrue(value.hasPrefix(deviceID + "." + deviceID + "."), value)
            XCTAssertEqual(observation["id"], .string(ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value)))
            XCTAssertFalse(item.resource.body.contains("patient-0017"), "the message's patient id is not used")
        }
        try store.close()
    }
}
