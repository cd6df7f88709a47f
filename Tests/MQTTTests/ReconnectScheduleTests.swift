import EdgeCore
@testable import MQTT
import XCTest

/// When the session connects again: exponential in the failures since the last accepted
/// CONNECT, capped, with seeded jitter.
final class ReconnectScheduleTests: XCTestCase {
    func testDelaysGrowToTheCapWithinTheirJitterBand() {
        var schedule = MQTTReconnectSchedule(backoff: ReconnectBackoff(base: .seconds(1), cap: .seconds(8)), seed: 42)
        let ceilings: [Int64] = [1000, 2000, 4000, 8000, 8000, 8000]
        for ceiling in ceilings {
            let delay = schedule.failed()
            XCTAssertGreaterThanOrEqual(delay, .milliseconds(ceiling / 2))
            XCTAssertLessThanOrEqual(delay, .milliseconds(ceiling))
        }
        XCTAssertEqual(schedule.consecutiveFailures, ceilings.count)
    }

    func testAnAcceptedConnectStartsOverAtTheBase() {
        var schedule = MQTTReconnectSchedule(backoff: ReconnectBackoff(base: .milliseconds(200), cap: .seconds(30)), seed: 7)
        for _ in 0..<10 { _ = schedule.failed() }
        schedule.connected()
        XCTAssertEqual(schedule.consecutiveFailures, 0)
        XCTAssertLessThanOrEqual(schedule.failed(), .milliseconds(200))
    }

    func testTheSameSeedReplaysTheSameDelaysAndAnotherDiffers() {
        func delays(_ seed: UInt64) -> [Duration] {
            var schedule = MQTTReconnectSchedule(backoff: ReconnectBackoff(base: .seconds(1), cap: .seconds(60)), seed: seed)
            return (0..<8).map { _ in schedule.failed() }
        }
        XCTAssertEqual(delays(1), delays(1))
        XCTAssertNotEqual(delays(1), delays(2), "gateways restarted together spread their reconnects")
    }

    func testDeliveryKeyIsTopicAndPayload() {
        let message = MQTTMessage(topic: "fhir-edge/demo-vitals/m1", payload: Array(#"{"a":1}"#.utf8))
        XCTAssertEqual(message.deliveryKey, MQTTMessage(topic: "fhir-edge/demo-vitals/m1", payload: Array(#"{"a":1}"#.utf8), retained: true).deliveryKey,
                       "a retained copy or a redelivery is the same message")
        XCTAssertNotEqual(message.deliveryKey, MQTTMessage(topic: "fhir-edge/demo-vitals/m2", payload: message.payload).deliveryKey)
        XCTAssertNotEqual(message.deliveryKey, MQTTMessage(topic: message.topic, payload: Array(#"{"a":2}"#.utf8)).deliveryKey)
        // The separator keeps topic and payload bytes from sliding into each other.
        XCTAssertNotEqual(MQTTMessage(topic: "a", payload: Array("bc".utf8)).deliveryKey, MQTTMessage(topic: "ab", payload: Array("c".utf8)).deliveryKey)
        XCTAssertTrue(message.deliveryKey.hasPrefix("mqtt:"))
    }
}
