import Audit
import EdgeCore
import Foundation
import JSONQuery
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
