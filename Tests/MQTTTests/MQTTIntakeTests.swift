import EdgeCore
@testable import Gateway
import JSONQuery
import Logging
import MQTT
import XCTest

/// What the intake answers the session for each sink decision: the PUBACK goes out for what was
/// committed or can never be taken, and is withheld (the broker keeps the message) otherwise.
final class MQTTIntakeTests: XCTestCase {
    private actor FakeSink: MessageSink {
        var decision: IntakeDecision = .accepted(stored: 1, duplicates: 0)
        private(set) var delivered: [DeviceMessage] = []
        func set(_ decision: IntakeDecision) { self.decision = decision }
        func deliver(_ messages: [DeviceMessage]) async -> IntakeDecision {
            delivered += messages
            return decision
        }
    }

    private func makeIntake(_ sink: FakeSink) -> (MQTTIntake, AcquisitionHealth) {
        var section = MQTTSection.demo(broker: MQTTBrokerAddress(host: "127.0.0.1", port: 1883, usesTLS: false))
        section.subscriptions.insert(MQTTSection.Subscription(filter: MQTTTopicFilter("ward/+/spo2")!, profile: .named("ward-oximeter")), at: 0)
        let health = AcquisitionHealth(journal: { _ in }, logger: Logger(label: "test"))
        let clock: @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: 1_800_000_000_000) }
        return (MQTTIntake(section: section, sink: sink, health: health, now: clock, logger: Logger(label: "test")), health)
    }

    func testACommittedMessageIsAcknowledgedWithItsProfileTopicAndKey() async {
        let sink = FakeSink()
        let (intake, health) = makeIntake(sink)
        let message = MQTTMessage(topic: "fhir-edge/demo-vitals/monitor-1", payload: Array(#"{"heartRate":70}"#.utf8))
        let answer = await intake.take(message)
        XCTAssertEqual(answer, .acknowledge)
        let delivered = await sink.delivered
        XCTAssertEqual(delivered, [DeviceMessage(
            profile: ProfileID("demo-vitals"), transport: .mqtt, sourceID: "mqtt:fhir-edge-demo", deviceID: "fhir-edge/demo-vitals/monitor-1",
            payload: message.payload, deliveryKey: message.deliveryKey)])
        _ = await intake.take(MQTTMessage(topic: "ward/bed-2/spo2", payload: [0x7B, 0x7D]))
        let ward = await sink.delivered.last?.profile
        XCTAssertEqual(ward, ProfileID("ward-oximeter"))
        let broker = await health.device(transport: .mqtt, device: "mqtt://127.0.0.1:1883")
        XCTAssertEqual(broker?.readings, 2)
        XCTAssertEqual(broker?.up, true)
    }

    func testDuplicatesAreAcknowledgedAndCounted() async {
        let sink = FakeSink()
        await sink.set(.accepted(stored: 0, duplicates: 1))
        let (intake, health) = makeIntake(sink)
        let answer = await intake.take(MQTTMessage(topic: "fhir-edge/demo-vitals/m", payload: [0x7B, 0x7D]))
        XCTAssertEqual(answer, .acknowledge, "a redelivery of a stored message is acknowledged, or the broker sends it forever")
        let broker = await health.device(transport: .mqtt, device: "mqtt://127.0.0.1:1883")
        XCTAssertEqual(broker?.details["duplicates"], .int(1))
        XCTAssertEqual(broker?.readings, 0)
    }

    func testAFullStoreWithholdsTheAcknowledgement() async {
        let sink = FakeSink()
        await sink.set(.retryLater(IntakeRefusal(code: "high-water-mark", reason: "full"), after: .seconds(5)))
        let (intake, health) = makeIntake(sink)
        let answer = await intake.take(MQTTMessage(topic: "fhir-edge/demo-vitals/m", payload: [0x7B, 0x7D]))
        XCTAssertEqual(answer, .withhold(retryAfter: .seconds(5)))
        let broker = await health.device(transport: .mqtt, device: "mqtt://127.0.0.1:1883")
        XCTAssertEqual(broker?.lastError, "store refused: high-water-mark")
        XCTAssertEqual(broker?.details["withheld"], .int(1))
    }

    func testWhatCanNeverBeTakenIsAcknowledgedSoTheSessionDoesNotStall() async {
        let sink = FakeSink()
        await sink.set(.rejected(IntakeRefusal(code: "unknown-profile", reason: "no profile")))
        let (intake, health) = makeIntake(sink)
        let unknown = await intake.take(MQTTMessage(topic: "fhir-edge/no-such-profile/m", payload: [0x7B, 0x7D]))
        XCTAssertEqual(unknown, .acknowledge)
        // No subscription maps this topic (one left over from an older configuration): dropped, counted.
        let unmatched = await intake.take(MQTTMessage(topic: "elsewhere/m", payload: [0x7B, 0x7D]))
        XCTAssertEqual(unmatched, .acknowledge)
        let delivered = await sink.delivered.count
        XCTAssertEqual(delivered, 1)
        let broker = await health.device(transport: .mqtt, device: "mqtt://127.0.0.1:1883")
        XCTAssertEqual(broker?.details["rejected"], .int(1))
        XCTAssertEqual(broker?.details["unmatched"], .int(1))
        XCTAssertEqual(broker?.details["lastRefusal"], .string("unknown-profile"))
    }
}
