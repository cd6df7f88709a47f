import Audit
import Foundation
import Store
import TestSupport
import XCTest

/// `fhir-edge audit verify` catches every kind of change to a real journal made with the sqlite3
/// tool (the append-only triggers are dropped first, as an intruder would), exits non-zero and
/// names the first bad sequence number.
final class JournalTamperingTests: XCTestCase {
    /// The store of one short daemon run, shared by the tests of this class.
    private final class Original: @unchecked Sendable {
        let lock = NSLock()
        var directory: URL?
        var journalLength = 0
    }

    private static let original = Original()

    /// One short daemon run gives the journal every test tampers with a copy of.
    private func originalStore() throws -> (URL, Int) {
        Self.original.lock.lock()
        defer { Self.original.lock.unlock() }
        if let directory = Self.original.directory { return (directory, Self.original.journalLength) }
        _ = try Pipeline.sqlite3()
        let directory = try temporaryDirectory("tamper")
        let daemon = DaemonProcess.demo(dataDirectory: directory)
        try daemon.start()
        for index in 0..<8 {
            let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json,
                                       body: Data(Pipeline.vitals("t\(index)", second: index).utf8))
            XCTAssertEqual(reply?.status, 202)
        }
        _ = try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(directory), "inbox") == 0 }
        XCTAssertEqual(daemon.stop(), 0)
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", directory.path])
        XCTAssertEqual(verify.status, 0, "the untouched journal must verify: \(verify.stdoutText)")
        let count = Int(try Pipeline.sql(daemon.storePath, "SELECT COUNT(*) FROM journal;").first ?? "") ?? 0
        XCTAssertGreaterThan(count, 10, "a real journal has the configuration, receipts, mapping and API calls")
        Self.original.directory = directory
        Self.original.journalLength = count
        return (directory, count)
    }

    override class func tearDown() {
        original.lock.lock()
        defer { original.lock.unlock() }
        if let directory = original.directory { try? FileManager.default.removeItem(at: directory) }
        original.directory = nil
    }

    /// Copies the original store into a fresh data directory and applies `sql` to it.
    private func tampered(_ sql: String) throws -> URL {
        let (original, _) = try originalStore()
        let copy = try temporaryDirectory("tampered")
        addTeardownBlock { try? FileManager.default.removeItem(at: copy) }
        let source = original.appendingPathComponent("fhir-edge.sqlite").path
        let target = copy.appendingPathComponent("fhir-edge.sqlite").path
        try Pipeline.sql(source, ".backup '\(target)'")
        // The store is encrypted; its key goes with it (`audit verify` finds it beside the store).
        try FileManager.default.copyItem(at: original.appendingPathComponent("fhir-edge.key"), to: copy.appendingPathComponent("fhir-edge.key"))
        try Pipeline.sql(target, """
            DROP TRIGGER journal_no_update;
            DROP TRIGGER journal_no_delete;
            \(sql)
            """)
        return copy
    }

    private func assertBroken(_ directory: URL, at sequence: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", directory.path])
        XCTAssertNotEqual(result.status, 0, "verify must fail: \(result.stdoutText)", file: file, line: line)
        XCTAssertTrue(result.stdoutText.contains("journal broken at entry \(sequence):"),
                      "verify must name entry \(sequence): \(result.stdoutText) \(result.stderr)", file: file, line: line)
        let json = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", directory.path, "--json"])
        XCTAssertEqual(json.status, 1, file: file, line: line)
        XCTAssertTrue(json.stdoutText.contains("\"firstBadSequence\":\(sequence)"), json.stdoutText, file: file, line: line)
    }

    func testEditedEntryIsNamed() throws {
        let directory = try tampered("UPDATE journal SET actor = 'someone-else' WHERE seq = 5;")
        try assertBroken(directory, at: 5)
    }

    func testEditedDetailsAreNamed() throws {
        let directory = try tampered(#"UPDATE journal SET details = '{"messages":999}' WHERE seq = 7;"#)
        try assertBroken(directory, at: 7)
    }

    func testDeletedEntryIsNamed() throws {
        let directory = try tampered("DELETE FROM journal WHERE seq = 4;")
        try assertBroken(directory, at: 4)
    }

    func testDeletedLastEntryIsNamed() throws {
        let (_, count) = try originalStore()
        let directory = try tampered("DELETE FROM journal WHERE seq = \(count);")
        try assertBroken(directory, at: count)
    }

    /// A forged entry slipped in at 3, everything after renumbered to make room.
    func testInsertedEntryIsNamed() throws {
        let directory = try tampered("""
            UPDATE journal SET seq = seq + 1000000 WHERE seq >= 3;
            UPDATE journal SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash)
                SELECT 3, time, 'api.request', 'http:demo', '[]', '{}', hash FROM journal WHERE seq = 2;
            """)
        try assertBroken(directory, at: 3)
    }

    func testEntryAppendedAfterTheHeadIsNamed() throws {
        let (_, count) = try originalStore()
        let directory = try tampered("""
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash)
                SELECT seq + 1, time, kind, actor, subjects, details, hash FROM journal WHERE seq = \(count);
            """)
        try assertBroken(directory, at: count + 1)
    }

    /// Two entries' contents swapped, sequence numbers and hashes left in place.
    func testReorderedEntriesAreNamed() throws {
        let directory = try tampered("""
            CREATE TEMP TABLE saved AS SELECT * FROM journal WHERE seq IN (2, 3);
            UPDATE journal SET (time, kind, actor, subjects, details, hash) =
                (SELECT time, kind, actor, subjects, details, hash FROM saved WHERE saved.seq = 5 - journal.seq)
                WHERE seq IN (2, 3);
            """)
        try assertBroken(directory, at: 2)
    }

    /// Reordering rows with their hashes still fails at the first moved entry.
    func testSwappedSequenceNumbersAreNamed() throws {
        let directory = try tampered("""
            UPDATE journal SET seq = -1 WHERE seq = 6;
            UPDATE journal SET seq = 6 WHERE seq = 7;
            UPDATE journal SET seq = 7 WHERE seq = -1;
            """)
        try assertBroken(directory, at: 6)
    }

    /// Without the store's key, cutting the last entries and pointing the recorded head at the
    /// new last one (its real hash) is still found: the head's tag does not match.
    func testCutTailWithAnUpdatedHeadIsNamed() throws {
        let (_, count) = try originalStore()
        let keep = count - 3
        let directory = try tampered("""
            DELETE FROM journal WHERE seq > \(keep);
            UPDATE store_meta SET value = \(keep), text = (SELECT hash FROM journal WHERE seq = \(keep)) WHERE key = 'journal_head';
            """)
        try assertBroken(directory, at: keep + 1)
    }

    /// An edit followed by recomputing every later hash with the published (unkeyed) chain, and
    /// the head updated to match, as an intruder without the key would: found at the edit.
    func testEditRehashedWithoutTheKeyIsNamed() async throws {
        let directory = try tampered("UPDATE journal SET actor = 'someone-else' WHERE seq = 5;")
        let path = directory.appendingPathComponent("fhir-edge.sqlite").path
        // The journal's columns are in clear; reading them needs no key (the reader checks it, so it is given).
        let reader = try StoreReader.openReadOnly(path: path, encryption: Pipeline.encryption(directory))
        let records = try await reader.journal(after: 0, limit: 100_000)
        try reader.close()
        var previous = records.first { $0.entry.sequence == 4 }?.hash
        var statements = ""
        for record in records where record.entry.sequence >= 5 {
            let hash = AuditChain().hash(of: record.entry, previous: previous)
            statements += "UPDATE journal SET hash = '\(hash)' WHERE seq = \(record.entry.sequence);\n"
            previous = hash
        }
        statements += "UPDATE store_meta SET text = '\(previous ?? "")' WHERE key = 'journal_head';\n"
        try Pipeline.sql(path, statements)
        try assertBroken(directory, at: 5)
    }
}
