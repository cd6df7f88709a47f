import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

final class DeadLetterTests: XCTestCase {
    private func deadLetter(_ fixture: StoreFixture, _ store: Store, payload: String) async throws -> DeadLetterID {
        let ids = try await store.append([fixture.message(payload)], actor: "test")
        _ = try await store.claimInbox(limit: 10)
        try await store.completeMapping(MappingResult(inboxIDs: ids, failures: [
            MappingFailure(inboxID: ids[0], stage: "fhir-mapping", errorType: "missing-value", errorMessage: "valueExpression matched nothing"),
        ]))
        return try await store.reader.deadLetters().last!.id
    }

    func testReplayMovesTheMessageBackToTheInboxCountedAndJournaled() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let first = try await deadLetter(fixture, store, payload: #"{"hr":"x"}"#)
        let listed = try await store.reader.deadLetters()
        XCTAssertEqual(listed.count, 1)
        XCTAssertNil(listed[0].payload, "listings leave payloads out")
        XCTAssertEqual(listed[0].errorType, "missing-value")
        XCTAssertEqual(listed[0].deviceID, "dev-1")
        let shown = try await store.reader.deadLetter(first)
        XCTAssertEqual(shown.payload.map { String(decoding: $0, as: UTF8.self) }, #"{"hr":"x"}"#)

        let destinations = try await store.replayDeadLetters([first], actor: "operator")
        guard case .inbox(let inboxID)? = destinations.first else { return XCTFail("expected an inbox destination") }
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.deadLetters, 0)
        XCTAssertEqual(stats.inbox, 1)
        let items = try await store.claimInbox(limit: 10)
        XCTAssertEqual(items.map(\.id), [inboxID])
        XCTAssertEqual(items[0].replayCount, 1)
        XCTAssertEqual(items[0].message.deviceID, "dev-1")
        XCTAssertEqual(items[0].message.transport, .http)
        XCTAssertEqual(String(decoding: items[0].message.payload, as: UTF8.self), #"{"hr":"x"}"#)

        let replayed = try await fixture.journal(store).last!.entry
        XCTAssertEqual(replayed.kind, .deadLetterReplayed)
        XCTAssertEqual(replayed.actor, "operator")
        XCTAssertEqual(replayed.subjects, [.deadLetter(first), .inbox(inboxID)])
        XCTAssertEqual(replayed.details["replayCount"], 1)

        // Failing again keeps the count, and the next replay raises it.
        try await store.completeMapping(MappingResult(inboxIDs: [inboxID], failures: [
            MappingFailure(inboxID: inboxID, stage: "fhir-mapping", errorType: "missing-value", errorMessage: "again"),
        ]))
        let second = try await store.reader.deadLetters().last!
        XCTAssertEqual(second.replayCount, 1)
        _ = try await store.replayDeadLetters([second.id], actor: "operator")
        let again = try await store.claimInbox(limit: 10)
        XCTAssertEqual(again.first?.replayCount, 2)
    }

    func testReplayOfARejectedResourceRequeuesItInTheOutbox() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let ids = try await store.append([fixture.message()], actor: "test")
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: ids, resources: [fixture.resource(ids[0], identity: "obs", body: #"{"a":1}"#)]))
        let lease = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        let report = try await store.settle(lease: lease.id, [OutboxSettlement(lease.items[0].id, .reject(errorType: "http-400", errorMessage: "bad"))])
        let destinations = try await store.replayDeadLetters(report.rejected, actor: "operator")
        guard case .outbox? = destinations.first else { return XCTFail("expected an outbox destination") }
        let again = try await store.leaseOutbox(limit: 1, for: .seconds(30))
        XCTAssertEqual(again.items.map(\.resource), [fixture.resource(ids[0], identity: "obs", body: #"{"a":1}"#)])
    }

    func testDiscardDeletesAndJournalsEachDeadLetter() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let first = try await deadLetter(fixture, store, payload: "{1}")
        let second = try await deadLetter(fixture, store, payload: "{22}")
        await XCTAssertThrowsStoreError(.notFound) { try await store.discardDeadLetters([first, DeadLetterID(42)], actor: "operator") }
        try await store.discardDeadLetters([first, second], actor: "operator:alice")
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.deadLetters, 0)
        XCTAssertEqual(stats.bytes, 0)
        let discarded = try await fixture.journal(store).filter { $0.entry.kind == .deadLetterDiscarded }.map(\.entry)
        XCTAssertEqual(discarded.map(\.subjects), [[.deadLetter(first)], [.deadLetter(second)]])
        XCTAssertEqual(discarded.map { $0.details["bytes"] }, [3, 4])
        XCTAssertEqual(discarded.first?.actor, "operator:alice")
    }

    func testReplayingAnUnknownDeadLetterChangesNothing() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let known = try await deadLetter(fixture, store, payload: "{}")
        await XCTAssertThrowsStoreError(.notFound) { try await store.replayDeadLetters([known, DeadLetterID(42)], actor: "operator") }
        let stats = try await store.reader.statistics(at: fixture.clock.now)
        XCTAssertEqual(stats.deadLetters, 1)
        XCTAssertEqual(stats.inbox, 0)
        await XCTAssertThrowsStoreError(.notFound) { try await store.reader.deadLetter(DeadLetterID(42)) }
    }
}
