import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

final class BoundsTests: XCTestCase {
    private func bytes(_ count: Int) -> String { String(repeating: "x", count: count) }

    private func kinds(_ fixture: StoreFixture, _ store: Store) async throws -> [JournalKind] {
        try await fixture.journal(store).map(\.entry.kind)
    }

    func testUnsyncedDataIsNeverEvictedByDefaultAndIngestIsRefusedInstead() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(StorePolicy(maxBytes: 100))
        let first = try await store.append([fixture.message(bytes(60))], actor: "test")
        await XCTAssertThrowsStoreError(.highWaterMark) { try await store.append([fixture.message(self.bytes(50))], actor: "test") }
        await XCTAssertThrowsStoreError(.highWaterMark) { try await store.append([fixture.message(self.bytes(50))], actor: "test") }
        var stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertTrue(stats.atHighWaterMark)
        XCTAssertEqual(stats.refused, 2)
        XCTAssertEqual(stats.inbox, 1)
        XCTAssertEqual(stats.bytes, 60)
        let reached = try await kinds(fixture, store).filter { $0 == .highWaterReached }
        XCTAssertEqual(reached.count, 1, "the transition is journaled once")

        // Mapped but not yet uploaded is still unsynced.
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: first, resources: [fixture.resource(first[0], identity: "o", body: bytes(10))]))
        await XCTAssertThrowsStoreError(.highWaterMark) { try await store.append([fixture.message(self.bytes(50))], actor: "test") }

        // Once uploaded, the message and resource are synced and make room.
        let lease = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        try await store.settle(lease: lease.id, [OutboxSettlement(lease.items[0].id, .accept(serverID: "1", serverVersion: "1"))])
        let accepted = try await store.append([fixture.message(bytes(50))], actor: "test")
        XCTAssertEqual(accepted.count, 1)
        stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertFalse(stats.atHighWaterMark)
        XCTAssertEqual(stats.bytes, 60, "the 60-byte synced message went; the sent resource and the new message stay")
        let tail = try await kinds(fixture, store).suffix(3)
        XCTAssertEqual(Array(tail), [.retentionEvicted, .highWaterCleared, .inboxReceived])
    }

    func testRetentionByAgeEvictsOnlySyncedData() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(StorePolicy(maxBytes: 1 << 20, retainSynced: .seconds(3600)))
        let ids = try await store.append([fixture.message("synced"), fixture.message("waiting")], actor: "test")
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: [ids[0]], resources: [fixture.resource(ids[0], identity: "o")]))
        let lease = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        try await store.settle(lease: lease.id, [OutboxSettlement(lease.items[0].id, .accept(serverID: nil, serverVersion: nil))])

        let early = try await store.enforceRetention()
        XCTAssertEqual(early, RetentionReport())
        fixture.clock.advance(milliseconds: 2 * 3_600_000)
        let report = try await store.enforceRetention()
        XCTAssertEqual(report.syncedRows, 2, "the mapped message and its sent resource")
        XCTAssertEqual(report.unsyncedRows, 0)
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.inbox, 1, "the unsynced message stays however old it is")
        XCTAssertEqual(stats.outboxSent, 0)
        XCTAssertEqual(stats.oldestUnsentAge, .milliseconds(2 * 3_600_000))
        let last = try await fixture.journal(store).last!.entry
        XCTAssertEqual(last.kind, .retentionEvicted)
        XCTAssertEqual(last.details["reason"], "age")
    }

    func testConfiguredEvictionOfUnsyncedDataJournalsEachRow() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(StorePolicy(maxBytes: 100, whenFull: .evictOldestUnsynced(olderThan: nil)))
        _ = try await store.append([fixture.message(bytes(60))], actor: "test")
        fixture.clock.advance(milliseconds: 1)
        _ = try await store.append([fixture.message(bytes(30))], actor: "test")
        _ = try await store.append([fixture.message(bytes(50))], actor: "test")
        let journal = try await fixture.journal(store)
        let evictions = journal.filter { $0.entry.kind == .unsyncedEvicted }
        XCTAssertEqual(evictions.map(\.entry.subjects), [[.inbox(InboxID(1))]])
        XCTAssertEqual(evictions.first?.entry.details["bytes"], 60)
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.bytes, 80)
        XCTAssertFalse(stats.atHighWaterMark)

        // Messages in the mapping stage's hands are never taken away: then it refuses.
        _ = try await store.claimInbox(limit: 10)
        await XCTAssertThrowsStoreError(.highWaterMark) { try await store.append([fixture.message(self.bytes(40))], actor: "test") }
    }

    func testConfiguredAgeBoundEvictsOldUnsyncedData() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(StorePolicy(maxBytes: 1 << 20, whenFull: .evictOldestUnsynced(olderThan: .seconds(60))))
        _ = try await store.append([fixture.message("old")], actor: "test")
        fixture.clock.advance(milliseconds: 120_000)
        _ = try await store.append([fixture.message("new")], actor: "test")
        let report = try await store.enforceRetention()
        XCTAssertEqual(report.unsyncedRows, 1)
        XCTAssertEqual(report.unsyncedBytes, 3)
        let items = try await store.claimInbox(limit: 10)
        XCTAssertEqual(items.map { String(decoding: $0.message.payload, as: UTF8.self) }, ["new"])
        let last = try await fixture.journal(store).last!.entry
        XCTAssertEqual(last.kind, .unsyncedEvicted)
        XCTAssertEqual(last.details["reason"], "age")
    }

    func testABatchLargerThanTheStoreIsRefusedOutright() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open(StorePolicy(maxBytes: 10))
        await XCTAssertThrowsStoreError(.tooLarge) { try await store.append([fixture.message(self.bytes(11))], actor: "test") }
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.received, 0)
    }

    func testStatisticsCountEveryStage() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message("aa"), fixture.message("bb"), fixture.message("cc")], actor: "test")
        fixture.clock.advance(milliseconds: 5000)
        _ = try await store.claimInbox(limit: 2)
        try await store.completeMapping(MappingResult(
            inboxIDs: [ids[0], ids[1]], resources: [fixture.resource(ids[0], identity: "o", body: "1234")],
            failures: [MappingFailure(inboxID: ids[1], stage: "s", errorType: "t", errorMessage: "m")]))
        let reader = try StoreReader.openReadOnly(path: fixture.path)
        let stats = try await reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats, StoreStatistics(
            received: 3, refused: 0, inbox: 1, outboxPending: 1, outboxSent: 0, deadLetters: 1, bytes: 10,
            oldestUnsentAge: .milliseconds(5000), atHighWaterMark: false, journalEntries: 3, journalBytes: stats.journalBytes))
        // The journal's bytes are its rows as stored, kept by triggers.
        let rows = try fixture.sqlite(
            "SELECT SUM(length(kind) + length(actor) + length(subjects) + length(details) + length(hash) + 24) FROM journal")
        XCTAssertEqual(String(stats.journalBytes), rows.output)
    }
}
