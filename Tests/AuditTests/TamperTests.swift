import Audit
import EdgeCore
import Store
import XCTest

/// Each test alters the journal with raw SQL, as someone with file access would, and expects
/// `verify` to name the first entry that is not what was appended.
final class TamperTests: XCTestCase {
    private func tampered(_ sql: String, entries: Int = 40) async throws -> JournalVerification {
        let fixture = try AuditFixture()
        let store = try await fixture.storeWithJournal(entries: entries)
        try store.close()
        let before = try await fixture.verify()
        XCTAssertTrue(before.isIntact, "\(before)")
        try fixture.dropGuards()
        try fixture.sqlite(sql)
        return try await fixture.verify()
    }

    private func assertBroken(_ result: JournalVerification, at sequence: Int64, file: StaticString = #filePath, line: UInt = #line) {
        guard case .broken(let first, _) = result else { return XCTFail("tampering went unnoticed", file: file, line: line) }
        XCTAssertEqual(first, sequence, "\(result)", file: file, line: line)
    }

    func testTheAppendOnlyGuardsRefuseCasualEdits() async throws {
        let fixture = try AuditFixture()
        let store = try await fixture.storeWithJournal(entries: 3)
        try store.close()
        let update = try fixture.sqlite("UPDATE journal SET actor = 'x' WHERE seq = 1", expectSuccess: false)
        XCTAssertTrue(update.contains("append-only"), update)
        try fixture.sqlite("DELETE FROM journal WHERE seq = 1", expectSuccess: false)
        let result = try await fixture.verify()
        XCTAssertTrue(result.isIntact)
    }

    func testEditedActorIsDetected() async throws {
        assertBroken(try await tampered("UPDATE journal SET actor = 'operator:mallory' WHERE seq = 17"), at: 17)
    }

    func testEditedDetailsAreDetected() async throws {
        assertBroken(try await tampered(#"UPDATE journal SET details = '{"n":999}' WHERE seq = 23"#), at: 23)
    }

    func testEditedTimeIsDetected() async throws {
        assertBroken(try await tampered("UPDATE journal SET time = time + 1 WHERE seq = 2"), at: 2)
    }

    func testUnreadableDetailsAreNamed() async throws {
        assertBroken(try await tampered("UPDATE journal SET details = 'not json' WHERE seq = 30"), at: 30)
    }

    func testRecomputedLookingHashIsDetected() async throws {
        // Replacing a hash (say, with the next entry's) breaks that entry and the link after it.
        assertBroken(try await tampered("UPDATE journal SET hash = (SELECT hash FROM journal WHERE seq = 9) WHERE seq = 8"), at: 8)
    }

    func testDeletedEntryIsDetected() async throws {
        assertBroken(try await tampered("DELETE FROM journal WHERE seq = 12"), at: 12)
    }

    func testDeletedFirstEntryIsDetected() async throws {
        assertBroken(try await tampered("DELETE FROM journal WHERE seq = 1"), at: 1)
    }

    func testEntriesDeletedFromTheEndAreDetected() async throws {
        assertBroken(try await tampered("DELETE FROM journal WHERE seq > 35"), at: 36)
    }

    func testDeletedRangeWithRenumberingIsDetected() async throws {
        assertBroken(try await tampered("DELETE FROM journal WHERE seq BETWEEN 10 AND 12; UPDATE journal SET seq = seq - 3 WHERE seq > 12;"), at: 10)
    }

    func testEntryAppendedAfterTheHeadIsDetected() async throws {
        let sql = """
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash)
            SELECT seq + 1, time, kind, actor, subjects, details, hash FROM journal WHERE seq = 40;
            """
        assertBroken(try await tampered(sql), at: 41)
    }

    func testEntryInsertedInTheMiddleIsDetected() async throws {
        // Make room at 20 by shifting the rest up, then insert a plausible copy of entry 19.
        let sql = """
            UPDATE journal SET seq = seq + 1000 WHERE seq >= 20;
            UPDATE journal SET seq = seq - 999 WHERE seq >= 1000;
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash)
            SELECT 20, time, kind, actor, subjects, details, hash FROM journal WHERE seq = 19;
            """
        assertBroken(try await tampered(sql), at: 20)
    }

    func testEntryInsertedBeforeTheFirstIsDetected() async throws {
        let sql = """
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash)
            SELECT 0, time, kind, actor, subjects, details, hash FROM journal WHERE seq = 1;
            """
        assertBroken(try await tampered(sql), at: 0)
    }

    func testSwappedEntriesAreDetected() async throws {
        let sql = """
            UPDATE journal SET seq = -5 WHERE seq = 5;
            UPDATE journal SET seq = 5 WHERE seq = 6;
            UPDATE journal SET seq = 6 WHERE seq = -5;
            """
        assertBroken(try await tampered(sql), at: 5)
    }

    func testSwappedContentsAreDetected() async throws {
        let sql = """
            UPDATE journal SET subjects = (SELECT subjects FROM journal WHERE seq = 31), details = (SELECT details FROM journal WHERE seq = 31) WHERE seq = 30;
            """
        assertBroken(try await tampered(sql), at: 30)
    }

    func testTamperingFarIntoALongJournalIsNamedExactly() async throws {
        assertBroken(try await tampered("UPDATE journal SET kind = 'inbox.received' WHERE seq = 2222", entries: 2500), at: 2222)
    }

    func testAReplacedHeadRecordIsDetected() async throws {
        assertBroken(try await tampered("UPDATE store_meta SET value = 38 WHERE key = 'journal_head'"), at: 39)
    }
}
