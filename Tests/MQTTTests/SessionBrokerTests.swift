import EdgeCore
import Foundation
@testable import MQTT
import TestSupport
import XCTest

/// The session against a real Mosquitto broker: the PUBACK of a message waits for the gateway's
/// answer, so what was not committed comes back, and what was acknowledged does not.
final class SessionBrokerTests: XCTestCase {
    private actor Recorder {
        private(set) var sightings: [String: Int] = [:]
        private(set) var acknowledged: Set<String> = []
        private(set) var events: [MQTTSessionEvent] = []
        let withholdFirst: Bool

        init(withholdFirst: Bool) { self.withholdFirst = withholdFirst }

        func take(_ message: MQTTMessage) -> MQTTDisposition {
            let marker = MQTTStore.marker(message.payload)
            sightings[marker, default: 0] += 1
            if withholdFirst, sightings[marker] == 1 { return .withhold(retryAfter: .milliseconds(20)) }
            acknowledged.insert(marker)
            return .acknowledge
        }

        func record(_ event: MQTTSessionEvent) { events.append(event) }
        var subscribedCount: Int { events.filter { if case .subscribed = $0 { true } else { false } }.count }
    }

    private func settings(_ broker: MosquittoBroker) -> MQTTSessionSettings {
        MQTTSessionSettings(
            broker: MQTTBrokerAddress(url: broker.url)!, clientID: "session-test", keepAlive: 10,
            filters: [MQTTTopicFilter("fhir-edge/#")!], backoff: ReconnectBackoff(base: .milliseconds(20), cap: .milliseconds(200)))
    }

    private func waitFor(_ condition: @escaping @Sendable () async -> Bool) async -> Bool {
        for _ in 0..<600 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    func testAWithheldMessageIsRedeliveredAndAnAcknowledgedOneIsNot() async throws {
        let directory = try temporaryDirectory("mqtt-session")
        defer { try? FileManager.default.removeItem(at: directory) }
        let broker = try MosquittoBroker(directory: directory)
        let count = 30

        let first = Recorder(withholdFirst: true)
        let session = MQTTSession(settings: settings(broker), seed: 1) { await first.take($0) }
        let running = Task { await session.run { await first.record($0) } }
        let subscribed = await waitFor { await first.subscribedCount >= 1 }
        let early = await first.events
        XCTAssertTrue(subscribed, "no SUBACK: \(early)")
        let publisher = try Publisher.start(port: broker.port, count: count, run: "s", interval: 0.002, directory: directory)
        XCTAssertEqual(publisher.finish(timeout: 60), 0, publisher.logText)
        let all = await waitFor { await first.acknowledged.count == count }
        let acknowledged = await first.acknowledged.count
        XCTAssertTrue(all, "acknowledged \(acknowledged) of \(count)")
        running.cancel()
        await running.value

        // Each message was withheld at its first sighting (no PUBACK, connection cut) and the
        // broker delivered it again.
        let sightings = await first.sightings
        XCTAssertEqual(sightings.count, count)
        XCTAssertTrue(sightings.values.allSatisfy { $0 >= 2 }, "\(sightings)")
        let events = await first.events
        XCTAssertTrue(events.contains { if case .disconnected = $0 { true } else { false } }, "withholding cuts the connection")

        // A new session under the same client id finds nothing left: every acknowledgement
        // reached the broker, the last ones flushed by the clean disconnect.
        let second = Recorder(withholdFirst: false)
        let again = MQTTSession(settings: settings(broker), seed: 2) { await second.take($0) }
        let rerun = Task { await again.run { await second.record($0) } }
        let resubscribed = await waitFor { await second.subscribedCount >= 1 }
        XCTAssertTrue(resubscribed)
        let marker = try Publisher.start(port: broker.port, count: 1, run: "t", interval: 0, directory: directory)
        XCTAssertEqual(marker.finish(timeout: 60), 0, marker.logText)
        let arrived = await waitFor { await second.acknowledged.contains(Publisher.marker(run: "t", 0)) }
        XCTAssertTrue(arrived)
        rerun.cancel()
        await rerun.value
        let seenAgain = await second.sightings.keys.sorted()
        XCTAssertEqual(seenAgain, [Publisher.marker(run: "t", 0)], "acknowledged messages were delivered again")
        let connected = await second.events.first { if case .connected = $0 { true } else { false } }
        XCTAssertEqual(connected, .connected(sessionPresent: true), "the broker kept the persistent session")
    }

    func testAnUnreachableBrokerIsRetriedWithBackoff() async throws {
        let port = try MosquittoBroker.freePort()
        let recorder = Recorder(withholdFirst: false)
        let session = MQTTSession(
            settings: MQTTSessionSettings(
                broker: MQTTBrokerAddress(host: "127.0.0.1", port: port, usesTLS: false), clientID: "nobody-home",
                filters: [MQTTTopicFilter("#")!], backoff: ReconnectBackoff(base: .milliseconds(10), cap: .milliseconds(40))),
            seed: 3) { await recorder.take($0) }
        let running = Task { await session.run { await recorder.record($0) } }
        let retried = await waitFor { await recorder.events.count >= 4 }
        running.cancel()
        await running.value
        XCTAssertTrue(retried)
        var expected = MQTTReconnectSchedule(backoff: ReconnectBackoff(base: .milliseconds(10), cap: .milliseconds(40)), seed: 3)
        for event in await recorder.events.prefix(4) {
            guard case .connectFailed(let reason, let retryIn) = event else { return XCTFail("expected a failed connect, got \(event)") }
            XCTAssertFalse(reason.isEmpty)
            XCTAssertEqual(retryIn, expected.failed(), "the delays follow the seeded schedule")
        }
    }
}
