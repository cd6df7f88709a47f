import Audit
import EdgeCore
import Foundation
@testable import Gateway
import JSONQuery
import Logging
import Store
import XCTest

/// The journal's head goes upstream as a signed checkpoint AuditEvent that the server can check
/// with the gateway's public key alone.
final class JournalWitnessTests: XCTestCase {
    func testTheWitnessQueuesASignedCheckpointAsAnAuditEvent() async throws {
        let directory = try TemporaryDirectory()
        let time = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let encryption = StoreEncryption(keyEncryptionKey: try KeyEncryptionKey(material: Array(String(repeating: "7a", count: 32).utf8), source: "test"))
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: { time }, encryption: encryption)
        defer { try? store.close() }
        try await store.journal([JournalEvent(kind: JournalKind("access.read"), actor: "operator:alice")])
        let recorded = try await store.reader.journalHead()
        let head = try XCTUnwrap(recorded)
        let witness = JournalWitnessService(
            store: store, exporter: AuditEventExporter(gatewayID: "box-1"), interval: .seconds(3600),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let sequence = await witness.witness()
        XCTAssertEqual(sequence, head.sequence + 1)

        var lines: [String] = []
        try await store.reader.exportOutbox { lines.append($0) }
        XCTAssertEqual(lines.count, 1)
        let event = try JSONValue(parsing: try XCTUnwrap(lines.first))
        XCTAssertEqual(event["resourceType"], "AuditEvent")
        guard case .array(let entities)? = event["entity"], case .array(let details)? = entities.first?["detail"] else {
            return XCTFail("no journal entity: \(event)")
        }
        var values: [String: String] = [:]
        for detail in details {
            if let type = detail["type"]?.stringValue, let value = detail["valueString"]?.stringValue { values[type] = value }
        }
        XCTAssertEqual(values["kind"], "journal.checkpoint")
        XCTAssertEqual(values["through"], String(head.sequence))
        XCTAssertEqual(values["hash"], head.hash)
        // What the server holds verifies with the public key alone, and names this journal's head.
        let publicKey = try XCTUnwrap(try store.reader.journalPublicKey())
        XCTAssertEqual(values["publicKey"], publicKey.map { String(format: "%02x", $0) }.joined())
        let signed: JSONObject = [
            "through": .int(head.sequence), "hash": .string(head.hash), "signature": .string(values["signature"] ?? ""),
        ]
        XCTAssertTrue(JournalCheckpoint.isSigned(signed, by: publicKey))
        var forged = signed
        forged["hash"] = .string(String(repeating: "0", count: 64))
        XCTAssertFalse(JournalCheckpoint.isSigned(forged, by: publicKey))
        let verification = try await JournalVerifier().verify(store.reader)
        XCTAssertTrue(verification.isIntact, "\(verification)")
    }

    func testTheWitnessIntervalIsConfigurable() throws {
        func upstream(_ line: String) throws -> GatewayConfiguration.UpstreamServer? {
            try GatewayConfiguration.decode(
                yaml: "dataDir: d\nprofiles: {directory: p}\nupstream: {url: 'http://127.0.0.1:8080/fhir'\(line)}", file: "c.yaml",
                baseDirectory: "/tmp", overrides: ConfigurationOverrides()).upstream
        }
        XCTAssertEqual(try upstream("")?.journalWitnessMilliseconds, 3_600_000)
        XCTAssertEqual(try upstream(", journalWitness: 15m")?.journalWitnessMilliseconds, 900_000)
        XCTAssertNil(try upstream(", journalWitness: 'off'")?.journalWitnessMilliseconds)
        XCTAssertThrowsError(try upstream(", journalWitness: 5s"))
    }
}
