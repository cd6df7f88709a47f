import FHIRConventions
import Audit
import EdgeCore
import Foundation
import JSONQuery
import Mapping
import Store
import XCTest
@testable import Gateway

/// The mapping stage against the real store, without HTTP.
final class MappingStageTests: XCTestCase {
    let time = Timestamp(millisecondsSinceEpoch: 1_764_000_000_000)

    func message(_ json: String, profile: String = "demo-vitals") -> InboxMessage {
        InboxMessage(profile: ProfileID(profile), transport: .http, sourceID: "test", receivedAt: time, payload: Array(json.utf8))
    }

    func testOneTransactionMovesTheBatchToOutboxAndDeadLetters() async throws {
        let directory = try TemporaryDirectory()
        let clock: @Sendable () -> Timestamp = { [time] in time }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let version = try XCTUnwrap(catalog["demo-vitals"]?.templateVersion)
        let good = #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72}"#
        let noPatient = #"{"deviceId": "m3", "measuredAt": "2025-11-24T10:00:00Z", "spo2": 95}"#
        let ids = try await store.append([
            message(good),
            message(#"{"deviceId": "m2", "measuredAt": "yesterday", "heartRate": 70}"#),
            message(noPatient),
            message(good, profile: "retired-profile"),
        ], actor: "test")
        XCTAssertEqual(ids.count, 4)
        let stage = MappingStage(store: store, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 10, now: clock)
        let mapped = try await stage.mapNextBatch()
        XCTAssertEqual(mapped, 4)
        let again = try await stage.mapNextBatch()
        XCTAssertEqual(again, 0, "nothing left to claim")

        let statistics = try await store.reader.statistics(at: time)
        XCTAssertEqual(statistics.inbox, 0)
        // The good message: heart-rate Observation, Patient and Device.
        XCTAssertEqual(statistics.outboxPending, 3)
        XCTAssertEqual(statistics.deadLetters, 3)
        let letters = try await store.reader.deadLetters()
        XCTAssertEqual(letters.map(\.stage), ["device-mapping", "fhir-mapping", "device-mapping"])
        XCTAssertEqual(letters.map(\.templateVersion), [version, version, nil])
        XCTAssertEqual(letters[1].errorType, "ResourceIdentityNotDefinedException", "Create mode needs a patient")
        XCTAssertEqual(letters[2].errorType, "ProfileNotLoaded")

        // The whole batch is one journal commit: the summary and the three dead letters are adjacent.
        let journal = try await store.reader.journal(after: 0)
        let kinds = journal.map(\.entry.kind.rawValue)
        XCTAssertEqual(Array(kinds.suffix(4)), ["mapping.completed", "deadletter.created", "deadletter.created", "deadletter.created"])
        let summary = try XCTUnwrap(journal.first { $0.entry.kind == .mappingCompleted })
        XCTAssertEqual(summary.entry.details["resources"], 3)
        XCTAssertEqual(summary.entry.details["failures"], 3)
        let verification = try await JournalVerifier().verify(store.reader)
        XCTAssertTrue(verification.isIntact)
        try store.close()
    }

    func testObservationIdsAreDeterministic() async throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let payload = #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72, "systolic": 120, "diastolic": 80}"#
        func run() async throws -> [String] {
            let directory = try TemporaryDirectory()
            let clock: @Sendable () -> Timestamp = { [time] in time }
            let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
            _ = try await store.append([message(payload)], actor: "test")
            let stage = MappingStage(store: store, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 10, now: clock)
            try await stage.mapNextBatch()
            var ids: [String] = []
            try await store.reader.exportOutbox { line in
                let resource = try JSONValue(parsing: line)
                ids.append((resource["resourceType"]?.stringValue ?? "?") + "/" + (resource["id"]?.stringValue ?? "?"))
            }
            try store.close()
            return ids
        }
        let first = try await run()
        XCTAssertEqual(first.count, 4, "\(first)")
        XCTAssertEqual(first.filter { $0.hasPrefix("Observation/") }.count, 2)
        let second = try await run()
        XCTAssertEqual(first, second)
    }
}

extension MappingStageTests {
    /// Readings that arrive one by one while the stage lingers after a partial batch are mapped
    /// in one claim and one commit; without a linger the stage never waits.
    func testAfterAPartialBatchTheStageLingersAndWhatArrivesMeanwhileIsOneBatch() async throws {
        let directory = try TemporaryDirectory()
        let clock: @Sendable () -> Timestamp = { [time] in time }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
        defer { try? store.close() }
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let reading: @Sendable (Int) -> InboxMessage = { [time] index in
            let json = #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:\#(String(format: "%02d", index))Z", "heartRate": \#(60 + index)}"#
            return InboxMessage(profile: ProfileID("demo-vitals"), transport: .http, sourceID: "test", receivedAt: time, payload: Array(json.utf8))
        }
        let lingers = Locked<[Duration]>([])
        let stageBox = Locked<MappingStage?>(nil)
        // The linger, stepped: the first one is when nine more readings arrive, each its own
        // request with its own wake-up, as over HTTP.
        let sleep: @Sendable (Duration) async -> Void = { duration in
            let first = lingers.withLock { $0.append(duration); return $0.count == 1 }
            guard first else { return }
            for index in 1...9 {
                _ = try? await store.append([reading(index)], actor: "test")
                stageBox.withLock { $0 }?.wake()
            }
        }
        let stage = MappingStage(store: store, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 50,
                                 linger: .milliseconds(100), sleep: sleep, now: clock)
        stageBox.withLock { $0 = stage }
        _ = try await store.append([reading(0)], actor: "test")
        let running = Task { try await stage.run() }
        var inbox: Int64 = -1
        for _ in 0..<400 {
            let statistics = try await store.reader.statistics(at: time)
            inbox = statistics.inbox
            if inbox == 0, lingers.withLock({ $0.count }) >= 2 { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        running.cancel()
        _ = try? await running.value
        XCTAssertEqual(inbox, 0, "all ten readings mapped")
        let batches = try await store.reader.journal(after: 0)
            .filter { $0.entry.kind == .mappingCompleted }.compactMap { $0.entry.details["messages"] }
        XCTAssertEqual(batches, [1, 9], "the first reading at once, the nine that came during the linger together")
        XCTAssertEqual(Set(lingers.withLock { $0 }), [.milliseconds(100)])

        // linger 0: the stage claims again at once and never waits.
        let quiet = try TemporaryDirectory()
        let other = try Store(path: quiet.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
        defer { try? other.close() }
        let waited = Locked(0)
        let eager = MappingStage(store: other, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 50,
                                 linger: .zero, sleep: { _ in waited.withLock { $0 += 1 } }, now: clock)
        _ = try await other.append([reading(0)], actor: "test")
        let runningEager = Task { try await eager.run() }
        for _ in 0..<400 {
            if try await other.reader.statistics(at: time).inbox == 0 { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        runningEager.cancel()
        _ = try? await runningEager.value
        let left = try await other.reader.statistics(at: time).inbox
        XCTAssertEqual(left, 0)
        XCTAssertEqual(waited.withLock { $0 }, 0)
    }
}

extension MappingStageTests {
    func testObservationsAreLinkedToTheMessageTheyCameFrom() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        func item(_ id: Int64, _ json: String) -> InboxItem {
            InboxItem(id: InboxID(id), message: message(json))
        }
        let items = [
            item(1, #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72}"#),
            item(2, #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:05Z", "heartRate": 75, "spo2": 97}"#),
            item(3, #"{"deviceId": "m2", "patientId": "p2", "measuredAt": "2025-11-24T10:00:00Z", "temperature": 36.9}"#),
        ]
        let (result, summary) = MappingStage.map(items, catalog: catalog, issued: time)
        let observations = result.resources.filter { $0.resourceType == "Observation" }
        XCTAssertEqual(observations.count, 4)
        XCTAssertEqual(observations.map(\.inboxID).sorted { ($0?.rawValue ?? 0) < ($1?.rawValue ?? 0) },
                       [InboxID(1), InboxID(2), InboxID(2), InboxID(3)])
        XCTAssertEqual(result.resources.filter { $0.resourceType == "Patient" }.count, 2)
        XCTAssertEqual(result.resources.filter { $0.resourceType == "Device" }.count, 2)
        XCTAssertTrue(result.failures.isEmpty)
        XCTAssertEqual(summary.observations, 4)
        XCTAssertEqual(summary.devices["m1"]?.messages, 2)
    }
}

extension MappingStageTests {
    /// A ble-* profile's Device is the PHD IG's: a BTMAC identifier in the eui-48/bluetooth system
    /// with the address as the message writes it, type MDC_MOC_VMS_MDS_SIMP, and what the Device
    /// Information Service said (the message's `device` object), the newest message's in the batch.
    func testBluetoothProfilesCreateThePHDDevice() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        func item(_ id: Int64, _ json: String) -> InboxItem {
            InboxItem(id: InboxID(id), message: message(json, profile: "ble-blood-pressure"))
        }
        let reading = #""characteristic": "bloodPressureMeasurement", "uuid": "2A35", "time": "2024-01-15T08:30:00.000Z", "timeSource": "device", "receivedAt": "2026-11-27T08:15:00.000Z", "values": {"systolic": 120, "diastolic": 80}, "units": {"systolic": "mm[Hg]", "diastolic": "mm[Hg]"}"#
        let items = [
            item(1, #"{"deviceId": "F0-00-00-00-18-10", "patientId": "p1", "#
                + #""device": {"manufacturerName": "BLE Rig", "modelNumber": "RIG-BP", "serialNumber": "BP-0001", "firmwareRevision": "0.9.0"}, "# + reading + "}"),
            item(2, #"{"deviceId": "F0-00-00-00-18-10", "patientId": "p1", "#
                + #""device": {"manufacturerName": "BLE Rig", "modelNumber": "RIG-BP", "serialNumber": "BP-0001", "firmwareRevision": "1.0.0", "hardwareRevision": "B"}, "# + reading + "}"),
        ]
        let (result, _) = MappingStage.map(items, catalog: catalog, issued: time)
        XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
        let devices = result.resources.filter { $0.resourceType == "Device" }
        XCTAssertEqual(devices.count, 1)
        let device = try JSONValue(parsing: try XCTUnwrap(devices.first).body)
        let system = "http://hl7.org/fhir/sid/eui-48/bluetooth"
        XCTAssertEqual(device["identifier"], [[
            "type": ["coding": [["system": "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers", "code": "BTMAC", "display": "Bluetooth MAC address"]],
                     "text": "Bluetooth MAC address"],
            "system": .string(system), "value": "F0-00-00-00-18-10",
        ]])
        XCTAssertEqual(device["id"]?.stringValue, ResourceIds.hashedId(system: system, value: "F0-00-00-00-18-10"))
        XCTAssertEqual(device["type"]?["coding"]?.arrayValue?.first?["system"], "urn:iso:std:iso:11073:10101")
        XCTAssertEqual(device["type"]?["coding"]?.arrayValue?.first?["code"], "65573")
        XCTAssertEqual(device["manufacturer"], "BLE Rig")
        XCTAssertEqual(device["modelNumber"], "RIG-BP")
        XCTAssertEqual(device["serialNumber"], "BP-0001")
        let versions = device["version"]?.arrayValue ?? []
        XCTAssertEqual(versions.map { $0["type"]?["coding"]?.arrayValue?.first?["code"]?.stringValue ?? "" }, ["531976", "531974"], "firmware, hardware")
        XCTAssertEqual(versions.map { $0["value"]?.stringValue ?? "" }, ["1.0.0", "B"], "the newest message's revisions")
        XCTAssertNotNil(device["patient"]?["reference"]?.stringValue)
        let observation = try JSONValue(parsing: try XCTUnwrap(result.resources.first { $0.resourceType == "Observation" }).body)
        XCTAssertEqual(observation["device"]?["reference"]?.stringValue, "Device/" + (device["id"]?.stringValue ?? ""))
    }

    /// A profile without a `device:` section keeps the identity-only Device, and ignores a
    /// message member that happens to be called `device`.
    func testProfilesWithoutADeviceSectionIgnoreTheMessagesDeviceObject() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let items = [InboxItem(id: InboxID(1), message: message(
            #"{"deviceId": "m1", "patientId": "p1", "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72, "device": {"manufacturerName": "X"}}"#))]
        let (result, _) = MappingStage.map(items, catalog: catalog, issued: time)
        let device = try JSONValue(parsing: try XCTUnwrap(result.resources.first { $0.resourceType == "Device" }).body)
        XCTAssertEqual(device.objectValue?.keys.sorted(), ["id", "identifier", "patient", "resourceType"])
    }
}

extension MappingStageTests {
    /// `issued` is when the gateway received the message (not the mapping time after a backlog);
    /// a reading its device timed keeps the gateway's receive instant in the received-time extension.
    func testObservationsKeepTheGatewaysReceiveTime() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let received = Timestamp(millisecondsSinceEpoch: time.millisecondsSinceEpoch - 3_600_000)
        func item(_ id: Int64, _ json: String) -> InboxItem {
            InboxItem(id: InboxID(id), message: InboxMessage(
                profile: ProfileID("ble-heart-rate"), transport: .ble, sourceID: "ble:F0:00:00:00:18:0D", receivedAt: received,
                payload: Array(json.utf8)))
        }
        let values = #""values": {"heartRate": 72}, "units": {"heartRate": "/min"}"#
        let items = [
            // The device's clock timed it (as a cuff or thermometer does).
            item(1, #"{"deviceId": "F0-00-00-00-18-0D", "patientId": "p1", "characteristic": "heartRateMeasurement", "time": "2024-01-15T08:30:00.000Z", "timeSource": "device", "receivedAt": "2026-11-27T08:15:00.123Z", "# + values + "}"),
            // The receive time is the measurement's time: nothing to add.
            item(2, #"{"deviceId": "F0-00-00-00-18-0D", "patientId": "p1", "characteristic": "heartRateMeasurement", "time": "2026-11-27T08:16:00.000Z", "timeSource": "receiver", "receivedAt": "2026-11-27T08:16:00.000Z", "# + values + "}"),
        ]
        let (result, _) = MappingStage.map(items, catalog: catalog, issued: time)
        XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
        let observations = try result.resources.filter { $0.resourceType == "Observation" }.map { try JSONValue(parsing: $0.body) }
        XCTAssertEqual(observations.count, 2)
        let deviceTimed = try XCTUnwrap(observations.first { $0["effectivePeriod"]?["start"] == "2024-01-15T08:30:00.000Z" })
        XCTAssertEqual(deviceTimed["extension"], [["url": "urn:fhir-edge:extension:received-time", "valueInstant": "2026-11-27T08:15:00.123Z"]])
        XCTAssertEqual(deviceTimed["issued"]?.stringValue, received.iso8601, "the inbox receive time, not the mapping time")
        let receiverTimed = try XCTUnwrap(observations.first { $0["effectivePeriod"]?["start"] == "2026-11-27T08:16:00.000Z" })
        XCTAssertNil(receiverTimed["extension"])
        XCTAssertEqual(receiverTimed["issued"]?.stringValue, received.iso8601)
    }
}

extension MappingStageTests {
    /// A Bluetooth message's notes (its status fields) become the Observations' notes; a pushed
    /// message's `notes` member does not.
    func testBluetoothMeasurementNotesBecomeObservationNotes() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let json = #"{"deviceId": "F0-00-00-00-18-10", "patientId": "p1", "characteristic": "bloodPressureMeasurement", "time": "2026-11-27T08:15:00.000Z", "timeSource": "receiver", "receivedAt": "2026-11-27T08:15:00.000Z", "values": {"systolic": 120, "diastolic": 80, "pulseRate": 72}, "units": {"systolic": "mm[Hg]", "diastolic": "mm[Hg]", "pulseRate": "/min"}, "notes": ["Irregular pulse detected"]}"#
        func mapped(_ transport: Transport) throws -> [JSONValue] {
            let item = InboxItem(id: InboxID(1), message: InboxMessage(
                profile: ProfileID("ble-blood-pressure"), transport: transport, sourceID: "s", receivedAt: time, payload: Array(json.utf8)))
            let (result, _) = MappingStage.map([item], catalog: catalog, issued: time)
            XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
            return try result.resources.filter { $0.resourceType == "Observation" }.map { try JSONValue(parsing: $0.body) }
        }
        let ble = try mapped(.ble)
        XCTAssertEqual(ble.count, 2, "panel and pulse")
        for observation in ble { XCTAssertEqual(observation["note"], [["text": "Irregular pulse detected"]]) }
        for observation in try mapped(.http) { XCTAssertNil(observation["note"]) }
    }
}

extension MappingStageTests {
    /// A Bluetooth message's body site (the thermometer's temperature type) is the Observation's.
    func testBluetoothBodySiteBecomesTheObservationsBodySite() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let json = #"{"deviceId": "F0-00-00-00-18-09", "patientId": "p1", "characteristic": "temperatureMeasurement", "time": "2026-11-27T08:15:00.000Z", "timeSource": "receiver", "receivedAt": "2026-11-27T08:15:00.000Z", "values": {"temperature": 37.2}, "units": {"temperature": "Cel"}, "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "34402009", "display": "Rectum structure"}], "text": "Rectum"}}"#
        let item = InboxItem(id: InboxID(1), message: InboxMessage(
            profile: ProfileID("ble-thermometer"), transport: .ble, sourceID: "s", receivedAt: time, payload: Array(json.utf8)))
        let (result, _) = MappingStage.map([item], catalog: catalog, issued: time)
        let observation = try JSONValue(parsing: try XCTUnwrap(result.resources.first { $0.resourceType == "Observation" }).body)
        XCTAssertEqual(observation["bodySite"]?["coding"]?.arrayValue?.first?["code"], "34402009")
        XCTAssertEqual(observation["bodySite"]?["text"], "Rectum")
    }

    /// Ids beyond 64 bits sent as JSON numbers stay exact: two patients whose ids round to the
    /// same double are two Patients, each identified by its own digits; devices likewise.
    func testNumericIdsBeyond64BitsStayDistinctAndExact() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let items = [
            InboxItem(id: InboxID(1), message: message(
                #"{"deviceId": 98765432109876543211, "patientId": 12345678901234567891, "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72}"#)),
            InboxItem(id: InboxID(2), message: message(
                #"{"deviceId": 98765432109876543212, "patientId": 12345678901234567892, "measuredAt": "2025-11-24T10:00:00Z", "temperature": 36.12345678901234567890123}"#)),
        ]
        let (result, _) = MappingStage.map(items, catalog: catalog, issued: time)
        XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
        func identifiers(_ type: String) throws -> [String] {
            try result.resources.filter { $0.resourceType == type }.compactMap {
                try JSONValue(parsing: $0.body)["identifier"]?.arrayValue?.first?["value"]?.stringValue
            }.sorted()
        }
        XCTAssertEqual(try identifiers("Patient"), ["12345678901234567891", "12345678901234567892"])
        XCTAssertEqual(try identifiers("Device"), ["98765432109876543211", "98765432109876543212"])
        let observations = result.resources.filter { $0.resourceType == "Observation" }
        XCTAssertEqual(observations.count, 2)
        let subjects = try Set(observations.compactMap { try JSONValue(parsing: $0.body)["subject"]?["reference"]?.stringValue })
        XCTAssertEqual(subjects.count, 2, "each Observation refers to its own Patient: \(subjects)")
        let temperature = try XCTUnwrap(observations.first { $0.inboxID == InboxID(2) })
        XCTAssertTrue(temperature.body.contains(#""value":36.12345678901234567890123"#), "all 25 digits pass through: \(temperature.body)")
    }
}

extension MappingStageTests {
    /// A reading the gateway corrected for a device clock two hours behind (docs/phd-ig.md, Time):
    /// `effective[x]` is the corrected time, and the Observation keeps the device's own time and
    /// the offset beside the receive instant. A clock within the tolerance adds nothing.
    func testACorrectedReadingKeepsTheDeviceTimeAndTheClockOffset() throws {
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        func item(_ id: Int64, _ json: String) -> InboxItem {
            InboxItem(id: InboxID(id), message: InboxMessage(
                profile: ProfileID("ble-heart-rate"), transport: .ble, sourceID: "ble:F0:00:00:00:18:0D", receivedAt: time,
                payload: Array(json.utf8)))
        }
        let values = #""values": {"heartRate": 72}, "units": {"heartRate": "/min"}, "receivedAt": "2026-11-27T10:30:05.000Z""#
        let items = [
            item(1, #"{"deviceId": "F0-00-00-00-18-0D", "patientId": "p1", "characteristic": "heartRateMeasurement", "time": "2026-11-27T10:30:00.000Z", "timeSource": "device", "deviceTime": "2026-11-27T08:30:00", "clock": {"offsetSeconds": -7200, "toleranceSeconds": 60, "checkedAt": "2026-11-27T10:29:00.000Z", "status": "off"}, "# + values + "}"),
            item(2, #"{"deviceId": "F0-00-00-00-18-0D", "patientId": "p1", "characteristic": "heartRateMeasurement", "time": "2026-11-27T10:31:00.000Z", "timeSource": "device", "deviceTime": "2026-11-27T10:31:00", "clock": {"offsetSeconds": 20, "toleranceSeconds": 60, "checkedAt": "2026-11-27T10:29:00.000Z", "status": "synchronised"}, "# + values + "}"),
        ]
        let (result, _) = MappingStage.map(items, catalog: catalog, issued: time)
        XCTAssertTrue(result.failures.isEmpty, "\(result.failures)")
        let observations = try result.resources.filter { $0.resourceType == "Observation" }.map { try JSONValue(parsing: $0.body) }
        let corrected = try XCTUnwrap(observations.first { $0["effectivePeriod"]?["start"] == "2026-11-27T10:30:00.000Z" })
        XCTAssertEqual(corrected["extension"], [
            ["url": "urn:fhir-edge:extension:received-time", "valueInstant": "2026-11-27T10:30:05.000Z"],
            ["url": "urn:fhir-edge:extension:device-time", "valueDateTime": "2026-11-27T08:30:00.000Z"],
            ["url": "urn:fhir-edge:extension:device-clock-offset",
             "valueQuantity": ["value": -7200, "unit": "s", "system": "http://unitsofmeasure.org", "code": "s"]],
        ])
        let synchronised = try XCTUnwrap(observations.first { $0["effectivePeriod"]?["start"] == "2026-11-27T10:31:00.000Z" })
        XCTAssertEqual(synchronised["extension"], [["url": "urn:fhir-edge:extension:received-time", "valueInstant": "2026-11-27T10:30:05.000Z"]])
    }
}
