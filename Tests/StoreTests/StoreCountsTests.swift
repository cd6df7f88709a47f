import EdgeCore
import Foundation
import Store
import TestSupport
import XCTest

/// The counts `/status` and `queue stats` read are kept by triggers: after every kind of change
/// (ingest, claim, mapping with failures, lease, accept, reject, keep, replay, discard,
/// retention) they equal what a scan of the tables counts, and reading them scans nothing.
final class StoreCountsTests: XCTestCase {
    private func scanned(_ fixture: StoreFixture) throws -> [Int64] {
        let sql = """
            SELECT (SELECT COUNT(*) FROM inbox WHERE state IN ('pending', 'claimed')) || ',' ||
                   (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'leased')) || ',' ||
                   (SELECT COUNT(*) FROM outbox WHERE state = 'sent') || ',' || (SELECT COUNT(*) FROM dead_letter);
            """
        let output = try fixture.sqlite(sql).output.trimmingCharacters(in: .whitespacesAndNewlines)
        return output.split(separator: ",").compactMap { Int64($0) }
    }

    private func kept(_ store: Store, _ fixture: StoreFixture) async throws -> [Int64] {
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        return [stats.inbox, stats.outboxPending, stats.outboxSent, stats.deadLetters]
    }

    func testCountsFollowEveryChangeAndMatchAScan() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        defer { try? store.close() }
        func check(_ step: String, _ expected: [Int64]) async throws {
            let counts = try await kept(store, fixture)
            XCTAssertEqual(counts, try scanned(fixture), "after \(step): kept counts equal a scan")
            XCTAssertEqual(counts, expected, "after \(step)")
        }

        let ids = try await store.append((0..<10).map { fixture.message(#"{"n":\#($0)}"#) }, actor: "test")
        try await check("ingest", [10, 0, 0, 0])
        let claimed = try await store.claimInbox(limit: 6)
        try await check("claim", [10, 0, 0, 0])
        _ = try await store.completeMapping(MappingResult(
            inboxIDs: claimed.map(\.id),
            resources: claimed.prefix(4).map { fixture.resource($0.id, identity: "obs-\($0.id.rawValue)") },
            failures: claimed.suffix(2).map { MappingFailure(inboxID: $0.id, stage: "device-mapping", errorType: "E", errorMessage: "bad") }))
        try await check("mapping with two failures", [4, 4, 0, 2])

        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(60))
        XCTAssertEqual(lease.items.count, 4)
        try await check("lease", [4, 4, 0, 2])
        _ = try await store.settle(lease: lease.id, [
            OutboxSettlement(lease.items[0].id, .accept(serverID: "a", serverVersion: "1")),
            OutboxSettlement(lease.items[1].id, .accept(serverID: "b", serverVersion: "1")),
            OutboxSettlement(lease.items[2].id, .reject(errorType: "invalid", errorMessage: "no")),
            OutboxSettlement(lease.items[3].id, .keep(retryAt: nil)),
        ])
        try await check("accept, reject, keep", [4, 1, 2, 3])

        let letters = try await store.reader.deadLetters()
        _ = try await store.replayDeadLetters([letters[0].id], actor: "test")
        try await check("replay", [5, 1, 2, 2])
        try await store.discardDeadLetters([letters[1].id], actor: "test")
        try await check("discard", [5, 1, 2, 1])
        XCTAssertEqual(ids.count, 10)
    }

    func testReadingTheCountsScansNoTable() throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        try store.close()
        let plan = try fixture.sqlite("""
            EXPLAIN QUERY PLAN SELECT (SELECT value FROM store_meta WHERE key = 'count_inbox_open'),
              (SELECT MIN(received_at) FROM inbox INDEXED BY inbox_open_by_time WHERE state IN ('pending', 'claimed')),
              (SELECT MIN(created_at) FROM outbox INDEXED BY outbox_open_by_time WHERE state IN ('pending', 'leased'));
            """).output
        XCTAssertFalse(plan.contains("SCAN inbox") && !plan.contains("USING"), plan)
        XCTAssertFalse(plan.contains("SCAN outbox") && !plan.contains("USING"), plan)
        XCTAssertTrue(plan.contains("inbox_open_by_time") && plan.contains("outbox_open_by_time"), plan)
    }
}
