import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store
import XCTest

/// Checkpoints and retention: the journal stays bounded, what was pruned is accounted for, the
/// rest still verifies, and neither a cut prefix nor a forged record of pruning passes.
final class JournalRetentionTests: XCTestCase {
    private static let key = String(repeating: "5e", count: 32)

    private func encryption() throws -> StoreEncryption {
        StoreEncryption(keyEncryptionKey: try KeyEncryptionKey(material: Array(Self.key.utf8), source: "test key"))
    }

    private func open(_ fixture: AuditFixture, _ journal: StorePolicy.JournalBounds? = nil, encrypted: Bool = true) throws -> Store {
        try Store(path: fixture.path, policy: StorePolicy(maxBytes: 1 << 30, journal: journal), chain: AuditChain(),
                  now: { [fixture] in fixture.now }, encryption: encrypted ? encryption() : nil)
    }

    private func append(_ store: Store, _ count: Int, from first: Int = 0) async throws {
        for batch in stride(from: first, to: first + count, by: 250) {
            try await store.journal((batch..<min(first + count, batch + 250)).map {
                JournalEvent(kind: JournalKind("access.read"), actor: "operator:alice", details: ["n": .int(Int64($0))])
            })
        }
    }

    private func verify(_ fixture: AuditFixture, encrypted: Bool = true) async throws -> JournalVerification {
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encrypted ? encryption() : nil)
        defer { try? reader.close() }
        return try await JournalVerifier(pageSize: 200).verify(reader)
    }

    private func records(_ fixture: AuditFixture, kind: JournalKind) async throws -> [JournalRecord] {
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encryption())
        defer { try? reader.close() }
        return try await reader.journal(after: 0, limit: 100_000).filter { $0.entry.kind == kind }
    }

    private func int(_ value: JSONValue?) -> Int64? {
        if case .int(let number)? = value { return number }
        return nil
    }

    func testEveryThousandEntriesASignedCheckpointNamesTheEntryBeforeIt() async throws {
        let fixture = try AuditFixture()
        let store = try open(fixture)
        try await append(store, 2100)
        try store.close()
        let checkpoints = try await records(fixture, kind: .journalCheckpoint)
        XCTAssertEqual(checkpoints.count, 2)
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encryption())
        let publicKey = try XCTUnwrap(try reader.journalPublicKey())
        let all = try await reader.journal(after: 0, limit: 100_000)
        try reader.close()
        for checkpoint in checkpoints {
            let through = int(checkpoint.entry.details["through"]) ?? -1
            XCTAssertEqual(through, checkpoint.entry.sequence - 1)
            XCTAssertEqual(checkpoint.entry.details["hash"]?.stringValue, all.first { $0.entry.sequence == through }?.hash)
            XCTAssertTrue(JournalCheckpoint.isSigned(checkpoint.entry.details, by: publicKey))
            var forged = checkpoint.entry.details
            forged["through"] = .int(through - 1)
            XCTAssertFalse(JournalCheckpoint.isSigned(forged, by: publicKey), "a signature covers the sequence number")
        }
        let result = try await verify(fixture)
        // The store's own first entry (its key), 2 100 entries, 2 checkpoints.
        XCTAssertEqual(result, .intact(entries: 2103, head: all.last?.hash))
    }

    func testRetentionKeepsTheJournalUnderItsBoundAndRecordsWhatWent() async throws {
        let fixture = try AuditFixture()
        let bound: Int64 = 64 * 1024
        let store = try open(fixture, .init(maxBytes: bound))
        try await append(store, 3000)
        let before = try await store.statistics()
        XCTAssertGreaterThan(before.journalBytes, bound)
        let report = try await store.enforceRetention()
        XCTAssertGreaterThan(report.journalEntries, 0)
        let after = try await store.statistics()
        XCTAssertLessThanOrEqual(after.journalBytes, bound)
        XCTAssertEqual(after.journalEntries, before.journalEntries + 1, "the pruning record is appended")
        try store.close()
        let pruned = try await records(fixture, kind: .journalPruned)
        XCTAssertEqual(pruned.count, 1)
        let details = try XCTUnwrap(pruned.first?.entry.details)
        XCTAssertEqual(details["from"], .int(1))
        XCTAssertEqual(int(details["entries"]), Int64(report.journalEntries))
        XCTAssertEqual(int(details["bytes"]), report.journalBytes)
        XCTAssertGreaterThan(report.journalBytes, before.journalBytes - bound)
        let result = try await verify(fixture)
        XCTAssertTrue(result.isIntact, "\(result)")
        // Intake prunes on its own when the journal outgrows the bound between passes.
        let reopened = try open(fixture, .init(maxBytes: bound))
        try await append(reopened, 3000, from: 3000)
        _ = try await reopened.append([InboxMessage(profile: ProfileID("p"), transport: .http, sourceID: "c",
                                                    receivedAt: fixture.now, payload: Array("{}".utf8))], actor: "http:c")
        let third = try await reopened.statistics()
        XCTAssertLessThanOrEqual(third.journalBytes, bound)
        try reopened.close()
        let again = try await verify(fixture)
        XCTAssertTrue(again.isIntact, "\(again)")
    }

    func testRetentionByAgeRemovesOnlyOlderEntries() async throws {
        let fixture = try AuditFixture()
        let store = try open(fixture, .init(maxBytes: .max, retain: .seconds(3600)))
        try await append(store, 10)
        fixture.advance(milliseconds: 2 * 3_600_000)
        try await append(store, 5, from: 10)
        let report = try await store.enforceRetention()
        XCTAssertEqual(report.journalEntries, 11, "the store's first entry and the 10 older ones")
        try store.close()
        let result = try await verify(fixture)
        XCTAssertEqual(result.isIntact, true, "\(result)")
    }

    func testACutPrefixOrAForgedRecordOfPruningIsDetected() async throws {
        for encrypted in [true, false] {
            let fixture = try AuditFixture()
            let store = try open(fixture, encrypted: encrypted)
            try await append(store, 200)
            try store.close()
            try fixture.dropGuards()
            // Cutting entries off the start without a record: entry 1 is missing.
            try fixture.sqlite("DELETE FROM journal WHERE seq <= 50;")
            let cut = try await verify(fixture, encrypted: encrypted)
            XCTAssertEqual(cut, .broken(firstBadSequence: 1, reason: "entry 1 is missing: deleted"))
            // Writing the record of pruning that retention would have written, without the key.
            try fixture.sqlite("""
                UPDATE store_meta SET value = 50, text = '\(String(repeating: "0", count: 64))' WHERE key = 'journal_base';
                """)
            let forged = try await verify(fixture, encrypted: encrypted)
            guard case .broken(let first, let reason) = forged else { return XCTFail("a forged pruning record went unnoticed") }
            if encrypted {
                XCTAssertEqual(first, 51)
                XCTAssertTrue(reason.contains("cut from the start"), reason)
            } else {
                XCTAssertEqual(first, 51, "in clear the base is trusted, but its hash must still chain: \(reason)")
            }
        }
    }
}
