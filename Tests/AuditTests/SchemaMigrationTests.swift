import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store
import XCTest

/// An upgrade from the previous release: release 0.1.0 (packaging/deb/changelog) left stores at
/// schema v5. Its rows were written as today's are (the later migrations add tables, triggers and
/// meta rows, never change a row's format), so the fixture is a store written by this code and
/// then taken back to v5 by undoing migrations v6 to v8 exactly, checked against the objects
/// v1-v5 create. The current code must open it, run the migrations, and keep every message,
/// resource, dead letter and the journal's chain.
final class SchemaMigrationTests: XCTestCase {
    private static let key = String(repeating: "3c", count: 32)

    private func encryption() throws -> StoreEncryption {
        StoreEncryption(keyEncryptionKey: try KeyEncryptionKey(material: Array(Self.key.utf8), source: "test key"))
    }

    private func open(_ fixture: AuditFixture) throws -> Store {
        try Store(path: fixture.path, policy: .standard, chain: AuditChain(), now: { [fixture] in fixture.now }, encryption: encryption())
    }

    private func message(_ fixture: AuditFixture, _ heartRate: Int, deliveryKey: String? = nil) -> InboxMessage {
        InboxMessage(profile: ProfileID("demo-vitals"), transport: .http, sourceID: "client-1", deviceID: "monitor-1",
                     receivedAt: fixture.now, payload: Array(#"{"heartRate":\#(heartRate),"patientId":"p-1"}"#.utf8),
                     deliveryKey: deliveryKey)
    }

    /// Tables, indexes and triggers of schema v5 (migrations v1-v5), by name.
    private static let version5Objects: Set<String> = [
        "inbox", "inbox_by_state", "outbox", "outbox_by_state", "outbox_by_identity", "outbox_by_inbox", "dead_letter",
        "journal", "journal_no_update", "journal_no_delete", "store_meta", "inbox_bytes_in", "inbox_bytes_out",
        "outbox_bytes_in", "outbox_bytes_change", "outbox_bytes_out", "dead_letter_bytes_in", "dead_letter_bytes_out",
        "server_identity", "outbox_unsent", "inbox_count_in", "inbox_count_out", "inbox_count_state", "outbox_count_in",
        "outbox_count_out", "outbox_count_state", "dead_letter_count_in", "dead_letter_count_out", "inbox_open_by_time",
        "outbox_open_by_time",
    ]

    /// Undoes v8 (field-kit marks and tables), v7 (journal bytes and base, the base-aware delete
    /// guard) and v6 (delivery keys), restoring v1's delete guard word for word.
    private static let backToVersion5 = """
        BEGIN;
        DROP INDEX outbox_unexported;
        DROP INDEX outbox_by_kit_export;
        ALTER TABLE outbox DROP COLUMN kit_export;
        DROP TABLE kit_import;
        DROP TABLE kit_source;
        DELETE FROM store_meta WHERE key = 'kit_export_sequence';
        DROP INDEX delivery_by_time;
        DROP TABLE delivery;
        DROP TRIGGER journal_bytes_in;
        DROP TRIGGER journal_bytes_out;
        DROP TRIGGER journal_no_delete;
        CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
            BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
        DELETE FROM store_meta WHERE key IN ('journal_bytes', 'journal_base');
        DELETE FROM grdb_migrations WHERE identifier IN ('v6: delivery keys', 'v7: journal retention', 'v8: field kits');
        COMMIT;
        """

    func testAStoreLeftByTheLastReleaseOpensWithItsDataAndJournal() async throws {
        let fixture = try AuditFixture()
        // What 0.1.0 did with a store: messages in, one mapped to an Observation, one dead-lettered,
        // one still waiting, caller entries in the journal.
        var store = try open(fixture)
        let ids = try await store.append([message(fixture, 71), message(fixture, 72), message(fixture, 73)], actor: "client-1")
        let claimed = try await store.claimInbox(limit: 2)
        XCTAssertEqual(claimed.map(\.id), Array(ids.prefix(2)))
        let observation = #"{"resourceType":"Observation","id":"obs-1","valueQuantity":{"value":71}}"#
        try await store.completeMapping(MappingResult(
            inboxIDs: [ids[0], ids[1]],
            resources: [OutboxResource(inboxID: ids[0], resourceType: "Observation", resourceID: "obs-1", identityKey: "obs-1", body: observation)],
            failures: [MappingFailure(inboxID: ids[1], stage: "fhir-mapping", errorType: "missing-value", errorMessage: "valueExpression matched nothing")]))
        try await store.journal([JournalEvent(kind: JournalKind("access.read"), actor: "operator:alice", details: ["route": .string("/status")])])
        let before = try await store.reader.statistics(at: fixture.now)
        let journalBefore = try await store.reader.journal(after: 0, limit: 1000)
        try store.close()

        try fixture.sqlite(Self.backToVersion5)
        let objects = try fixture.sqlite("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'")
        XCTAssertEqual(Set(objects.split(separator: "\n").map(String.init)), Self.version5Objects, "the fixture is a v5 store")
        XCTAssertEqual(try fixture.sqlite("SELECT COUNT(*) FROM grdb_migrations"), "5")
        XCTAssertEqual(try fixture.sqlite("SELECT COUNT(*) FROM store_meta WHERE key LIKE 'journal_b%'"), "0")

        // The current code opens it: migrations v6 to v8 run, nothing is lost.
        store = try open(fixture)
        XCTAssertEqual(try fixture.sqlite("SELECT COUNT(*) FROM grdb_migrations"), "8")
        let after = try await store.reader.statistics(at: fixture.now)
        XCTAssertEqual(after.received, before.received)
        XCTAssertEqual(after.inbox, 1)
        XCTAssertEqual(after.outboxPending, 1)
        XCTAssertEqual(after.deadLetters, 1)
        XCTAssertEqual(after.bytes, before.bytes)

        let waiting = try await store.claimInbox(limit: 10)
        XCTAssertEqual(waiting.map(\.id), [ids[2]])
        XCTAssertEqual(String(decoding: waiting.first?.message.payload ?? [], as: UTF8.self), #"{"heartRate":73,"patientId":"p-1"}"#)
        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(lease.items.map(\.resource.body), [observation])
        let deadLetters = try await store.reader.deadLetters()
        XCTAssertEqual(deadLetters.map(\.errorType), ["missing-value"])

        // The journal is the same chain, verifies, and carries on under the new migrations.
        let journalAfter = try await store.reader.journal(after: 0, limit: 1000)
        XCTAssertEqual(Array(journalAfter.prefix(journalBefore.count)), journalBefore)
        XCTAssertEqual(try fixture.sqlite("SELECT value > 0 FROM store_meta WHERE key = 'journal_bytes'"), "1", "v7 counted the old entries")
        let receipt = try await store.receive([message(fixture, 74, deliveryKey: "hl7:42"), message(fixture, 74, deliveryKey: "hl7:42")], actor: "mllp")
        XCTAssertEqual(receipt.duplicates, 1, "delivery keys work on the upgraded store")
        try store.close()
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encryption())
        defer { try? reader.close() }
        let verdict = try await JournalVerifier(pageSize: 64).verify(reader)
        XCTAssertTrue(verdict.isIntact, "\(verdict)")
        if case .intact(let entries, _) = verdict { XCTAssertGreaterThan(entries, Int64(journalBefore.count)) }
    }
}
