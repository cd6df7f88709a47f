import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

final class OutboxTests: XCTestCase {
    /// Appends one message per identity, maps each to one resource, and returns the store.
    private func storeWithResources(_ fixture: StoreFixture, identities: [String], policy: StorePolicy = .standard) async throws -> Store {
        let store = try fixture.open(policy)
        let ids = try await store.append(identities.map { _ in fixture.message() }, actor: "test")
        _ = try await store.claimInbox(limit: ids.count)
        try await store.completeMapping(MappingResult(
            inboxIDs: ids, resources: zip(ids, identities).map { fixture.resource($0, identity: $1, body: #"{"id":"\#($1)"}"#) }))
        return store
    }

    func testARepeatedIdentityInOneBatchKeepsOneRowWithTheNewestBodyAndTheBytesCounted() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a"])
        let ids = try await store.append([fixture.message(), fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 2)
        let outbox = try await store.completeMapping(MappingResult(inboxIDs: ids, resources: [
            fixture.resource(ids[0], identity: "a", body: #"{"id":"a2"}"#),
            fixture.resource(ids[0], identity: "b", body: #"{"id":"b1"}"#),
            fixture.resource(ids[1], identity: "b", body: #"{"id":"b2"}"#),
            fixture.resource(ids[1], identity: "a", body: #"{"id":"a3"}"#),
        ]))
        XCTAssertEqual(outbox.count, 4)
        XCTAssertEqual(outbox[0], outbox[3], "the pending row of an earlier batch is replaced")
        XCTAssertEqual(outbox[1], outbox[2], "a row inserted earlier in the same batch is replaced")
        XCTAssertEqual(try fixture.sqlite("SELECT identity_key || '=' || body FROM outbox ORDER BY id").output,
                       "a={\"id\":\"a3\"}\nb={\"id\":\"b2\"}")
        XCTAssertEqual(try fixture.sqlite("SELECT (SELECT value FROM store_meta WHERE key = 'bytes') = "
                                          + "(SELECT SUM(size) FROM inbox) + (SELECT SUM(size) FROM outbox)").output, "1")
        XCTAssertEqual(try fixture.sqlite("SELECT group_concat(state) FROM inbox").output, "mapped,mapped,mapped")
    }

    func testSettleAcceptsRejectsAndKeeps() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a", "b", "c"])
        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(lease.items.map(\.resource.identityKey), ["a", "b", "c"])
        XCTAssertEqual(lease.items.map(\.attempts), [1, 1, 1])
        XCTAssertEqual(lease.expiresAt, fixture.clock.now.adding(milliseconds: 30_000))
        let retryAt = fixture.clock.now.adding(milliseconds: 60_000)
        let report = try await store.settle(lease: lease.id, [
            OutboxSettlement(lease.items[0].id, .accept(serverID: "srv-a", serverVersion: "1")),
            OutboxSettlement(lease.items[1].id, .reject(errorType: "http-422", errorMessage: "Observation.code: required")),
            OutboxSettlement(lease.items[2].id, .keep(retryAt: retryAt)),
        ])
        XCTAssertEqual(report.accepted, 1)
        XCTAssertEqual(report.rejected.count, 1)
        XCTAssertEqual(report.kept, 1)
        XCTAssertEqual(try fixture.sqlite("SELECT server_id || '/' || server_version FROM outbox WHERE state = 'sent'").output, "srv-a/1")

        let deadLetter = try await store.reader.deadLetter(report.rejected[0])
        XCTAssertEqual(deadLetter.origin, .outbox(lease.items[1].id))
        XCTAssertEqual(deadLetter.stage, "upload")
        XCTAssertEqual(deadLetter.payload.map { String(decoding: $0, as: UTF8.self) }, #"{"id":"b"}"#)

        let tooEarly = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertTrue(tooEarly.items.isEmpty, "a kept resource waits for its retry time")
        fixture.clock.advance(milliseconds: 60_000)
        let again = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(again.items.map(\.resource.identityKey), ["c"])
        XCTAssertEqual(again.items.first?.attempts, 2)

        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.outboxSent, 1)
        XCTAssertEqual(stats.outboxPending, 1)
        XCTAssertEqual(stats.deadLetters, 1)
        let kinds = try await fixture.journal(store).map(\.entry.kind)
        XCTAssertEqual(Array(kinds.suffix(3)), [.outboxSent, .outboxRejected, .outboxKept])
    }

    func testOneInFlightUploadPerIdentityAndNewerStateReplacesPending() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["x"])
        let first = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(first.items.count, 1)

        // Two newer versions of the same identity arrive while the first is in flight.
        let ids = try await store.append([fixture.message(), fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 2)
        let queued = try await store.completeMapping(MappingResult(inboxIDs: ids, resources: [
            fixture.resource(ids[0], identity: "x", body: #"{"v":2}"#), fixture.resource(ids[1], identity: "x", body: #"{"v":3}"#),
        ]))
        XCTAssertEqual(queued[0], queued[1], "one pending row per identity")

        let blocked = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertTrue(blocked.items.isEmpty, "the identity is in flight")
        try await store.settle(lease: first.id, [OutboxSettlement(first.items[0].id, .accept(serverID: "x", serverVersion: "1"))])
        let next = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(next.items.map(\.resource.body), [#"{"v":3}"#])
    }

    func testExpiredLeaseIsLeasedAgainAndTheStaleSettlementIsIgnored() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a"])
        let old = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        fixture.clock.advance(milliseconds: 10_000)
        let stillHeld = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertTrue(stillHeld.items.isEmpty)
        fixture.clock.advance(milliseconds: 20_000)
        let renewed = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(renewed.items.map(\.id), old.items.map(\.id))
        XCTAssertEqual(renewed.items.first?.attempts, 2)
        let stale = try await store.settle(lease: old.id, [OutboxSettlement(old.items[0].id, .accept(serverID: nil, serverVersion: nil))])
        XCTAssertEqual(stale.stale, [old.items[0].id])
        XCTAssertEqual(stale.accepted, 0)
        let fresh = try await store.settle(lease: renewed.id, [OutboxSettlement(old.items[0].id, .accept(serverID: nil, serverVersion: nil))])
        XCTAssertEqual(fresh.accepted, 1)
    }

    func testAnExpiredLeaseOfAnOlderRowGoesBeforeTheNewerRowOfItsIdentity() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["x", "y"])
        let first = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        XCTAssertEqual(first.items.map(\.resource.identityKey), ["x"])
        let ids = try await store.append([fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 1)
        let newer = try await store.completeMapping(MappingResult(inboxIDs: ids, resources: [fixture.resource(ids[0], identity: "x", body: #"{"v":2}"#)]))
        XCTAssertNotEqual(newer, first.items.map(\.id), "a leased row is not replaced; the newer state waits behind it")

        fixture.clock.advance(milliseconds: 30_000)
        let again = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(again.items.map(\.id), first.items.map(\.id) + [OutboxID(2)], "x's older row, then y; never both rows of x")
        let blocked = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertTrue(blocked.items.isEmpty, "x is in flight again")
    }

    func testRowsInBackoffAreSkippedAndLeasedOldestFirstOnceDue() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a", "b", "c", "d", "e"])
        let first = try await store.leaseOutbox(limit: 2, for: .seconds(30))
        XCTAssertEqual(first.items.map(\.resource.identityKey), ["a", "b"])
        let retryAt = fixture.clock.now.adding(milliseconds: 60_000)
        try await store.settle(lease: first.id, first.items.map { OutboxSettlement($0.id, .keep(retryAt: retryAt)) })
        let second = try await store.leaseOutbox(limit: 2, for: .seconds(120))
        XCTAssertEqual(second.items.map(\.resource.identityKey), ["c", "d"], "the rows in backoff are passed over")
        fixture.clock.advance(milliseconds: 60_000)
        let third = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(third.items.map(\.resource.identityKey), ["a", "b", "e"], "c and d are still in flight")
        XCTAssertEqual(third.items.map(\.attempts), [2, 2, 1])
    }

    func testTheLeaseWalksAnIndexInsteadOfSortingTheBacklog() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a"])
        let plan = try await store.outboxLeaseQueryPlan()
        XCTAssertTrue(plan.contains { $0.contains("USING COVERING INDEX outbox_unsent") }, plan.joined(separator: "\n"))
        XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, plan.joined(separator: "\n"))
        XCTAssertFalse(plan.contains { $0.contains("MULTI-INDEX OR") }, plan.joined(separator: "\n"))
    }

    func testExportWritesBufferedResourcesAsNDJSON() async throws {
        let fixture = try StoreFixture()
        let store = try await storeWithResources(fixture, identities: ["a", "b", "c"])
        let lease = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        try await store.settle(lease: lease.id, [OutboxSettlement(lease.items[0].id, .accept(serverID: nil, serverVersion: nil))])
        var lines: [String] = []
        try await store.reader.exportOutbox { lines.append($0) }
        XCTAssertEqual(lines, [#"{"id":"b"}"#, #"{"id":"c"}"#])
        for line in lines { XCTAssertNoThrow(try JSONValue(parsing: line)) }
        var sent: [String] = []
        try await store.reader.exportOutbox(states: [.sent]) { sent.append($0) }
        XCTAssertEqual(sent, [#"{"id":"a"}"#])
    }

    func testBodiesFromJSONValuesAreCompactSingleLines() {
        let resource = OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "o1", identityKey: "o1",
                                      json: ["resourceType": "Observation", "note": ["text": "line\nbreak"]])
        XCTAssertFalse(resource.body.contains("\n"))
        XCTAssertEqual(resource.body, #"{"resourceType":"Observation","note":{"text":"line\nbreak"}}"#)
    }
}
