import Audit
import EdgeCore
import Foundation
@testable import Gateway
import Logging
import Store
import XCTest

/// The one sink every source delivers to answers the same way whatever the transport.
final class IntakeSinkTests: XCTestCase {
    let time = Timestamp(secondsSinceEpoch: 1_800_000_000)

    func sink(_ store: Store, woken: WakeCounter = WakeCounter()) -> IntakeSink {
        IntakeSink(
            store: store, monitor: GatewayMonitor(startedAt: time), profileLoaded: { $0.rawValue == "demo-vitals" },
            onCommitted: { woken.add() }, now: { [time] in time }, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func message(_ key: String?, profile: String = "demo-vitals") -> DeviceMessage {
        DeviceMessage(profile: ProfileID(profile), transport: .mllp, sourceID: "mllp:127.0.0.1", payload: Array(#"{"heartRate":72}"#.utf8),
                      deliveryKey: key)
    }

    func testAcceptsDurablyCountsDuplicatesAndWakesMapping() async throws {
        let directory = try TemporaryDirectory()
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: { [time] in time })
        defer { try? store.close() }
        let woken = WakeCounter()
        let sink = sink(store, woken: woken)
        let first = await sink.deliver([message("A"), message("B")])
        XCTAssertEqual(first, .accepted(stored: 2, duplicates: 0))
        let again = await sink.deliver([message("B")])
        XCTAssertEqual(again, .accepted(stored: 0, duplicates: 1))
        let inbox = try await store.statistics().inbox
        XCTAssertEqual(inbox, 2)
        XCTAssertEqual(woken.count, 2)
        let pending = try await store.claimInbox(limit: 10)
        XCTAssertEqual(pending.map(\.message.transport), [.mllp, .mllp])
        XCTAssertEqual(pending.map(\.message.receivedAt), [time, time])
    }

    func testAnUnknownProfileIsRejectedAndNothingOfTheBatchIsStored() async throws {
        let directory = try TemporaryDirectory()
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: { [time] in time })
        defer { try? store.close() }
        let decision = await sink(store).deliver([message(nil), message(nil, profile: "no-such-profile")])
        guard case .rejected(let refusal) = decision else { return XCTFail("expected a rejection, got \(decision)") }
        XCTAssertEqual(refusal.code, "unknown-profile")
        XCTAssertTrue(refusal.reason.contains("no-such-profile"), refusal.reason)
        let inbox = try await store.statistics().inbox
        XCTAssertEqual(inbox, 0)
    }

    func testAFullStoreAsksTheSenderToRetryLater() async throws {
        let directory = try TemporaryDirectory()
        let store = try Store(path: directory.path + "/s.sqlite", policy: StorePolicy(maxBytes: 40), chain: AuditChain(), now: { [time] in time })
        defer { try? store.close() }
        let sink = sink(store)
        let fits = await sink.deliver([message(nil), message(nil)])
        XCTAssertEqual(fits, .accepted(stored: 2, duplicates: 0))
        let decision = await sink.deliver([message(nil)])
        guard case .retryLater(let refusal, let after) = decision else { return XCTFail("expected retry-later, got \(decision)") }
        XCTAssertEqual(refusal.code, "high-water-mark")
        XCTAssertEqual(after, IntakeSink.highWaterRetryAfter)
        let tooLarge = await sink.deliver([DeviceMessage(profile: ProfileID("demo-vitals"), transport: .mqtt, sourceID: "mqtt:x",
                                                         payload: Array(repeating: 0x20, count: 100))])
        guard case .rejected(let large) = tooLarge else { return XCTFail("expected a rejection, got \(tooLarge)") }
        XCTAssertEqual(large.code, "too-large")
    }
}

final class WakeCounter: Sendable {
    private let value = Locked(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
