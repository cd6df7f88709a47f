import Audit
import EdgeCore
import JSONQuery
import Store
import XCTest

final class AuditEventExportTests: XCTestCase {
    func testEntriesBecomeAuditEventsWithIdentifiersOnly() async throws {
        let fixture = try AuditFixture()
        let store = try fixture.open()
        let secret = #"{"patient":"Jane Doe","heartRate":72}"#
        let ids = try await store.append([InboxMessage(profile: ProfileID("demo"), transport: .http, sourceID: "client-9",
                                                       deviceID: "dev-42", receivedAt: fixture.now, payload: Array(secret.utf8))],
                                         actor: "http:client-9")
        fixture.advance(milliseconds: 1000)
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: ids, failures: [
            MappingFailure(inboxID: ids[0], stage: "device-mapping", errorType: "no-template", errorMessage: "Jane Doe did not match"),
        ]))

        var lines: [String] = []
        let exporter = AuditEventExporter(gatewayID: "edge-ward-3", site: "ward 3")
        let written = try await exporter.exportNDJSON(from: store.reader, since: Timestamp(millisecondsSinceEpoch: 0)) { lines.append($0) }
        XCTAssertEqual(written, 3)
        XCTAssertEqual(lines.count, 3)
        for line in lines {
            XCTAssertFalse(line.contains("\n"))
            XCTAssertFalse(line.contains("Jane"), "no payload or error text leaks into the audit trail")
        }
        let received = try JSONValue(parsing: lines[0])
        XCTAssertEqual(received["resourceType"], "AuditEvent")
        XCTAssertEqual(received["type"]?["system"], "http://dicom.nema.org/resources/ontology/DCM")
        XCTAssertEqual(received["type"]?["code"], "110107")
        XCTAssertEqual(received["subtype"]?.arrayValue?.first?["code"], "create")
        XCTAssertEqual(received["action"], "C")
        XCTAssertEqual(received["outcome"], "0")
        XCTAssertEqual(received["recorded"], "2023-11-14T22:13:20.000Z")
        XCTAssertEqual(received["agent"]?.arrayValue?.first?["who"]?["identifier"]?["value"], "http:client-9")
        XCTAssertEqual(received["agent"]?.arrayValue?.first?["requestor"], true)
        XCTAssertEqual(received["source"]?["observer"]?["identifier"]?["value"], "edge-ward-3")
        XCTAssertEqual(received["source"]?["site"], "ward 3")
        let entities = received["entity"]?.arrayValue ?? []
        XCTAssertEqual(entities.map { $0["what"]?["identifier"]?["system"]?.stringValue ?? "" },
                       ["urn:fhir-edge:journal", "urn:fhir-edge:inbox", "urn:fhir-edge:device"])
        XCTAssertEqual(entities.first?["what"]?["identifier"]?["value"], "1")
        XCTAssertEqual(entities.last?["what"]?["identifier"]?["value"], "dev-42")
        let head = try await store.reader.journal(after: 0, limit: 1).first
        XCTAssertEqual(received["id"]?.stringValue, head?.hash)
        XCTAssertTrue(entities.first?["detail"]?.arrayValue?.contains(["type": "hash", "valueString": .string(head?.hash ?? "")]) ?? false)

        let deadLettered = try JSONValue(parsing: lines[2])
        XCTAssertEqual(deadLettered["outcome"], "4")
        XCTAssertEqual(deadLettered["entity"]?.arrayValue?.compactMap { $0["what"]?["identifier"]?["system"]?.stringValue },
                       ["urn:fhir-edge:journal", "urn:fhir-edge:deadletter", "urn:fhir-edge:inbox"])
    }

    func testExportSinceSkipsOlderEntries() async throws {
        let fixture = try AuditFixture()
        let store = try fixture.open()
        try await store.journal([JournalEvent(kind: JournalKind("app.start"), actor: "gateway")])
        fixture.advance(milliseconds: 60_000)
        let cut = fixture.now
        try await store.journal([JournalEvent(kind: JournalKind("access.export"), actor: "operator:alice")])
        var lines: [String] = []
        try await AuditEventExporter(gatewayID: "g").exportNDJSON(from: store.reader, since: cut) { lines.append($0) }
        XCTAssertEqual(lines.count, 1)
        let event = try JSONValue(parsing: lines[0])
        XCTAssertEqual(event["type"]?["code"], "110106")
        XCTAssertEqual(event["agent"]?.arrayValue?.first?["type"]?["coding"]?.arrayValue?.first?["code"], "humanuser")

        var incremental: [String] = []
        try await AuditEventExporter(gatewayID: "g").exportNDJSON(from: store.reader, since: Timestamp(millisecondsSinceEpoch: 0),
                                                                  afterSequence: 1) { incremental.append($0) }
        XCTAssertEqual(incremental, lines)
    }
}
