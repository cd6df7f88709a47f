import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// A sender that retries after a lost acknowledgement (an HL7 sender without its ACK, an MQTT
/// broker redelivering after a crash) must not create a second reading.
final class DeliveryKeyTests: XCTestCase {
    func keyed(_ fixture: StoreFixture, _ key: String?, _ text: String = #"{"heartRate":72}"#, profile: String = "demo-vitals") -> InboxMessage {
        var message = fixture.message(text)
        message.profile = ProfileID(profile)
        message.deliveryKey = key
        return message
    }

    func testARedeliveryIsHeldOnceAndAnsweredWithTheFirstCopysId() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let first = try await store.receive([keyed(fixture, "MSG-1"), keyed(fixture, "MSG-2")], actor: "mllp:peer")
        XCTAssertEqual(first, InboxReceipt(ids: [InboxID(1), InboxID(2)], duplicates: 0))
        let again = try await store.receive([keyed(fixture, "MSG-2"), keyed(fixture, "MSG-3")], actor: "mllp:peer")
        XCTAssertEqual(again, InboxReceipt(ids: [InboxID(2), InboxID(3)], duplicates: 1))
        // Inside one batch too, and messages without a key are never deduplicated.
        let batch = try await store.receive([keyed(fixture, "MSG-4"), keyed(fixture, "MSG-4"), keyed(fixture, nil), keyed(fixture, nil)], actor: "x")
        XCTAssertEqual(batch, InboxReceipt(ids: [InboxID(4), InboxID(4), InboxID(5), InboxID(6)], duplicates: 1))
        let stats = try await store.statistics()
        XCTAssertEqual(stats.received, 6)
        XCTAssertEqual(stats.inbox, 6)
        let journal = try await fixture.journal(store)
        let received = journal.map(\.entry).filter { $0.kind == .inboxReceived }
        XCTAssertEqual(received.map { $0.details["duplicates"] }, [nil, .int(1), .int(1)])
        XCTAssertEqual(received.map { $0.details["messages"] }, [.int(2), .int(1), .int(3)])
    }

    func testTheSameKeyUnderAnotherProfileIsAnotherMessage() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let receipt = try await store.receive([keyed(fixture, "1"), keyed(fixture, "1", profile: "hl7-pcd01-vitals")], actor: "x")
        XCTAssertEqual(receipt.duplicates, 0)
        XCTAssertEqual(receipt.ids.count, 2)
    }

    func testKeysAreForgottenWithSyncedDataAndSurviveAReopen() async throws {
        let fixture = try StoreFixture()
        let policy = StorePolicy(maxBytes: 1 << 20, retainSynced: .seconds(60))
        do {
            let store = try fixture.open(policy)
            _ = try await store.receive([keyed(fixture, "K")], actor: "x")
            try store.close()
        }
        let store = try fixture.open(policy)
        let soon = try await store.receive([keyed(fixture, "K")], actor: "x")
        XCTAssertEqual(soon.duplicates, 1, "a retry after a restart is still recognised")
        fixture.clock.advance(milliseconds: 61_000)
        let late = try await store.receive([keyed(fixture, "K")], actor: "x")
        XCTAssertEqual(late.duplicates, 0, "a key older than the synced-data retention is forgotten")
        XCTAssertEqual(try fixture.sqlite("SELECT count(*) FROM delivery").output, "1")
        // The retention pass removes keys too old to count.
        fixture.clock.advance(milliseconds: 61_000)
        try await store.enforceRetention()
        XCTAssertEqual(try fixture.sqlite("SELECT count(*) FROM delivery").output, "0")
    }
}
