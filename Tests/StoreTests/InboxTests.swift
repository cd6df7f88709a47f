import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

final class InboxTests: XCTestCase {
    func testOpeningAnEmptyFileMigratesToAnEmptyDurableStore() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats, StoreStatistics())
        let settings = try await store.durabilitySettings()
        XCTAssertEqual(settings.journalMode, "wal")
        XCTAssertEqual(settings.synchronous, 2, "synchronous must be FULL so acknowledged data survives power loss")
        let tables = try fixture.sqlite("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)")
        XCTAssertEqual(tables.output, "dead_letter,delivery,grdb_migrations,inbox,journal,kit_import,kit_source,outbox,server_identity,sqlite_sequence,store_meta")
    }

    func testAFileThatIsNotADatabaseIsReportedWithItsPath() throws {
        let fixture = try StoreFixture()
        try Data("not a database, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: fixture.path))
        XCTAssertThrowsError(try fixture.open()) { error in
            let storeError = error as? StoreError
            XCTAssertEqual(storeError?.code, .notAStore)
            XCTAssertEqual(storeError?.location, fixture.path)
        }
    }

    func testAppendReturnsIdsInOrderAndJournalsTheBatch() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message("a"), fixture.message("bb"), fixture.message("ccc")], actor: "http:client-1")
        XCTAssertEqual(ids, [InboxID(1), InboxID(2), InboxID(3)])
        let stats = try await store.statistics()
        XCTAssertEqual(stats.received, 3)
        XCTAssertEqual(stats.inbox, 3)
        XCTAssertEqual(stats.bytes, 6)
        let journal = try await fixture.journal(store)
        XCTAssertEqual(journal.count, 1)
        XCTAssertEqual(journal[0].entry.kind, .inboxReceived)
        XCTAssertEqual(journal[0].entry.actor, "http:client-1")
        XCTAssertEqual(journal[0].entry.subjects.map(\.description), ["inbox/1", "inbox/2", "inbox/3", "device/dev-1"])
        XCTAssertEqual(journal[0].entry.details["messages"], 3)
        XCTAssertEqual(journal[0].entry.time, fixture.clock.now)
    }

    func testAcknowledgedMessagesAreOnDiskBeforeAppendReturns() async throws {
        // What a kill -9 leaves is what is in the files: copy them while the store is still open
        // and open the copy as a fresh process would.
        let fixture = try StoreFixture()
        let store = try fixture.open()
        _ = try await store.append([fixture.message("one"), fixture.message("two")], actor: "test")
        let copy = fixture.directory.appendingPathComponent("copy.sqlite").path
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: fixture.path + suffix) {
            try FileManager.default.copyItem(atPath: fixture.path + suffix, toPath: copy + suffix)
        }
        let recovered = try fixture.open(at: copy)
        let items = try await recovered.claimInbox(limit: 10)
        XCTAssertEqual(items.map { String(decoding: $0.message.payload, as: UTF8.self) }, ["one", "two"])
        // And another process sees them through the WAL while the writer is open.
        let count = try fixture.sqlite("SELECT COUNT(*) FROM inbox")
        XCTAssertEqual(count.output, "2")
    }

    func testClaimHandsEachMessageOutOnceOldestFirst() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let message = fixture.message()
        _ = try await store.append(Array(repeating: message, count: 5), actor: "test")
        let first = try await store.claimInbox(limit: 3)
        XCTAssertEqual(first.map(\.id.rawValue), [1, 2, 3])
        XCTAssertEqual(first[0].message, message)
        XCTAssertEqual(first[0].replayCount, 0)
        let second = try await store.claimInbox(limit: 3)
        XCTAssertEqual(second.map(\.id.rawValue), [4, 5])
        let third = try await store.claimInbox(limit: 3)
        XCTAssertTrue(third.isEmpty)
    }

    func testReleasedClaimsAreClaimedAgain() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message(), fixture.message()], actor: "test")
        let claimed = try await store.claimInbox(limit: 1).map(\.id)
        let released = try await store.releaseClaims(claimed + [ids[1], InboxID(99)])
        XCTAssertEqual(released, 1, "only the claimed message is handed back")
        let again = try await store.claimInbox(limit: 10)
        XCTAssertEqual(again.map(\.id), ids)
    }

    func testCompleteMappingCommitsResourcesFailuresAndJournalTogether() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        _ = try await store.append([fixture.message("m1"), fixture.message("m2"), fixture.message("m3")], actor: "test")
        let claimed = try await store.claimInbox(limit: 10).map(\.id)
        let extra = JournalEvent(kind: JournalKind("mapping.templates"), actor: "mapping", details: ["version": "v7"])
        let outboxIDs = try await store.completeMapping(MappingResult(
            inboxIDs: claimed,
            resources: [fixture.resource(claimed[0], identity: "obs-1"), fixture.resource(claimed[0], identity: "obs-2")],
            failures: [MappingFailure(inboxID: claimed[1], stage: "device-mapping", errorType: "no-template",
                                      errorMessage: "no template matches typeName", templateVersion: "v7")],
            journal: [extra]))
        XCTAssertEqual(outboxIDs.count, 2)
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.inbox, 0)
        XCTAssertEqual(stats.outboxPending, 2)
        XCTAssertEqual(stats.deadLetters, 1)
        let states = try fixture.sqlite("SELECT group_concat(id || ':' || state, ',') FROM inbox")
        XCTAssertEqual(states.output, "1:mapped,3:mapped", "the failed message moved to the dead letters")
        let kinds = try await fixture.journal(store).map(\.entry.kind.rawValue)
        XCTAssertEqual(kinds, ["inbox.received", "mapping.completed", "deadletter.created", "mapping.templates"])
        let deadLetter = try await store.reader.deadLetters()
        XCTAssertEqual(deadLetter.first?.origin, .inbox(claimed[1]))
        XCTAssertEqual(deadLetter.first?.templateVersion, "v7")
    }

    func testCompletingAnUnclaimedMessageChangesNothing() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message(), fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 1)
        await XCTAssertThrowsStoreError(.invalidState) {
            try await store.completeMapping(MappingResult(inboxIDs: ids, resources: [fixture.resource(ids[0], identity: "x")]))
        }
        await XCTAssertThrowsStoreError(.notFound) {
            try await store.completeMapping(MappingResult(inboxIDs: [InboxID(99)]))
        }
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.outboxPending, 0, "the failed transaction rolled back its outbox rows")
        let journal = try await fixture.journal(store)
        XCTAssertEqual(journal.count, 1, "and its journal entries")
    }

    func testReopenAfterCloseKeepsDataAndContinuesTheJournal() async throws {
        let fixture = try StoreFixture()
        do {
            let store = try fixture.open()
            _ = try await store.append([fixture.message("kept")], actor: "test")
            try store.close()
            await XCTAssertThrowsStoreError(.database) { try await store.append([fixture.message()], actor: "test") }
        }
        let store = try fixture.open()
        _ = try await store.append([fixture.message("later")], actor: "test")
        let items = try await store.claimInbox(limit: 10)
        XCTAssertEqual(items.map { String(decoding: $0.message.payload, as: UTF8.self) }, ["kept", "later"])
        let sequences = try await fixture.journal(store).map(\.entry.sequence)
        XCTAssertEqual(sequences, [1, 2])
        let head = try await store.reader.journalHead()
        XCTAssertEqual(head, JournalHead(sequence: 2, hash: "h2"))
    }

    func testResumeAfterRestartReturnsClaimsAndLeases() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message(), fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: [ids[0]], resources: [fixture.resource(ids[0], identity: "a")]))
        _ = try await store.claimInbox(limit: 1)
        _ = try await store.leaseOutbox(limit: 10, for: .seconds(600))
        let resumed = try await store.resumeAfterRestart()
        XCTAssertEqual(resumed.inbox, 1)
        XCTAssertEqual(resumed.outbox, 1)
        let claimed = try await store.claimInbox(limit: 10)
        XCTAssertEqual(claimed.map(\.id), [ids[1]])
        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(600))
        XCTAssertEqual(lease.items.count, 1)
        let last = try await fixture.journal(store).last?.entry
        XCTAssertEqual(last?.kind, .workResumed)
    }

    func testACancelledAppendStoresNothingAndSaysSo() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let message = fixture.message()
        let task = Task { () async throws -> [InboxID] in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await store.append([message], actor: "test")
        }
        do {
            _ = try await task.value
            XCTFail("a cancelled append must not report success")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .cancelled, "\(error)")
        }
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.received, 0)
    }

    func testAReadOnlyReaderInASecondConnectionSeesCommittedData() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        _ = try await store.append([fixture.message()], actor: "test")
        let reader = try StoreReader.openReadOnly(path: fixture.path)
        let stats = try await reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.inbox, 1)
        _ = try await store.append([fixture.message()], actor: "test")
        let later = try await reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(later.inbox, 2)
        try reader.close()
        XCTAssertThrowsError(try StoreReader.openReadOnly(path: fixture.directory.appendingPathComponent("missing.sqlite").path))
    }
}
