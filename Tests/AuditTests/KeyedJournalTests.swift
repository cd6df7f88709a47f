import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store
import XCTest

/// The journal of an encrypted store is keyed: a party who can write the database but has no key
/// can neither rehash after an edit nor cut the tail and rewrite the head. The same attacks on a
/// store kept in clear pass, which shows what the key adds (and that these tests can fail).
final class KeyedJournalTests: XCTestCase {
    private static let key = String(repeating: "c4", count: 32)

    private func encryption() throws -> StoreEncryption {
        StoreEncryption(keyEncryptionKey: try KeyEncryptionKey(material: Array(Self.key.utf8), source: "test key"))
    }

    /// A store with 40 caller entries, encrypted or in clear; closed.
    private func journal(_ fixture: AuditFixture, encrypted: Bool) async throws {
        let store = try Store(path: fixture.path, policy: .standard, chain: AuditChain(), now: { [fixture] in fixture.now },
                              encryption: encrypted ? encryption() : nil)
        try await store.journal((0..<40).map {
            JournalEvent(kind: JournalKind("access.read"), actor: "operator:alice", details: ["n": .int(Int64($0))])
        })
        try store.close()
    }

    private func verify(_ fixture: AuditFixture, encrypted: Bool) async throws -> JournalVerification {
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encrypted ? encryption() : nil)
        defer { try? reader.close() }
        return try await JournalVerifier(pageSize: 16).verify(reader)
    }

    /// What an intruder who knows the (public) chain algorithm does after changing entry
    /// `edited`: recompute every hash from there with the unkeyed chain and record the new head.
    private func rehash(_ fixture: AuditFixture, encrypted: Bool, from edited: Int64) async throws {
        let reader = try StoreReader.openReadOnly(path: fixture.path, encryption: encrypted ? encryption() : nil)
        let records = try await reader.journal(after: 0, limit: 10_000)
        try reader.close()
        var previous = records.first { $0.entry.sequence == edited - 1 }?.hash
        var statements = ""
        for record in records where record.entry.sequence >= edited {
            let hash = AuditChain().hash(of: record.entry, previous: previous)
            statements += "UPDATE journal SET hash = '\(hash)' WHERE seq = \(record.entry.sequence);\n"
            previous = hash
        }
        statements += "UPDATE store_meta SET text = '\(previous ?? "")' WHERE key = 'journal_head';"
        try fixture.sqlite(statements)
    }

    func testAnEditRehashedWithoutTheKeyIsDetected() async throws {
        for encrypted in [true, false] {
            let fixture = try AuditFixture()
            try await journal(fixture, encrypted: encrypted)
            let before = try await verify(fixture, encrypted: encrypted)
            XCTAssertTrue(before.isIntact, "\(before)")
            try fixture.dropGuards()
            try fixture.sqlite("UPDATE journal SET actor = 'someone-else' WHERE seq = 5;")
            try await rehash(fixture, encrypted: encrypted, from: 5)
            let after = try await verify(fixture, encrypted: encrypted)
            if encrypted {
                XCTAssertEqual(after, .broken(firstBadSequence: 5, reason: "entry 5 does not match its hash: edited, inserted or reordered"))
            } else {
                XCTAssertTrue(after.isIntact, "an unkeyed chain cannot tell a rehashed edit: \(after)")
            }
        }
    }

    func testACutTailWithAnUpdatedHeadIsDetected() async throws {
        for encrypted in [true, false] {
            let fixture = try AuditFixture()
            try await journal(fixture, encrypted: encrypted)
            try fixture.dropGuards()
            try fixture.sqlite("""
                DELETE FROM journal WHERE seq > 30;
                UPDATE store_meta SET value = 30, text = (SELECT hash FROM journal WHERE seq = 30) WHERE key = 'journal_head';
                """)
            let after = try await verify(fixture, encrypted: encrypted)
            if encrypted {
                guard case .broken(let first, let reason) = after else { return XCTFail("a cut tail went unnoticed") }
                XCTAssertEqual(first, 31)
                XCTAssertTrue(reason.contains("cut"), reason)
            } else {
                XCTAssertTrue(after.isIntact, "an unkeyed head cannot tell a cut tail: \(after)")
            }
        }
    }

    func testACutTailStaysDetectedAfterTheGatewayAppendsAgain() async throws {
        let fixture = try AuditFixture()
        try await journal(fixture, encrypted: true)
        try fixture.dropGuards()
        try fixture.sqlite("""
            DELETE FROM journal WHERE seq > 30;
            UPDATE store_meta SET value = 30, text = (SELECT hash FROM journal WHERE seq = 30) WHERE key = 'journal_head';
            """)
        let store = try Store(path: fixture.path, policy: .standard, chain: AuditChain(), now: { [fixture] in fixture.now },
                              encryption: encryption())
        try await store.journal([JournalEvent(kind: JournalKind("access.read"), actor: "cli")])
        try store.close()
        let after = try await verify(fixture, encrypted: true)
        guard case .broken(let first, _) = after else { return XCTFail("the next append made the cut verify") }
        XCTAssertEqual(first, 31)
    }

    func testRemovingEveryEntryAndTheHeadIsDetected() async throws {
        let fixture = try AuditFixture()
        try await journal(fixture, encrypted: true)
        try fixture.dropGuards()
        try fixture.sqlite("DELETE FROM journal; UPDATE store_meta SET value = 0, text = NULL WHERE key = 'journal_head';")
        let after = try await verify(fixture, encrypted: true)
        XCTAssertFalse(after.isIntact, "\(after)")
    }

    func testRemovingTheJournalKeyOrMovingItsStartIsReportedAtOpen() async throws {
        for sql in ["DELETE FROM store_meta WHERE key = 'journal_key';", "UPDATE store_meta SET value = 100 WHERE key = 'journal_key';"] {
            let fixture = try AuditFixture()
            try await journal(fixture, encrypted: true)
            try fixture.sqlite(sql)
            XCTAssertThrowsError(try StoreReader.openReadOnly(path: fixture.path, encryption: encryption())) { error in
                XCTAssertEqual((error as? StoreError)?.code, .corruptJournal, sql)
            }
        }
    }
}
