import BluetoothDecoding
import EdgeCore
import XCTest

@testable import Bluetooth

/// The device session's decisions, driven event by event without a stack or a clock.
final class SessionStateMachineTests: XCTestCase {
    typealias Machine = DeviceSessionStateMachine

    let heartRate = MeasurementCharacteristic(.heartRateMeasurement, valueHandle: 16, configurationHandle: 17, indicates: false)
    let pressure = MeasurementCharacteristic(.bloodPressureMeasurement, valueHandle: 16, configurationHandle: 17, indicates: true)
    let cuff = MeasurementCharacteristic(.intermediateCuffPressure, valueHandle: 19, configurationHandle: 20, indicates: false)
    let backoff = ReconnectBackoff(base: .seconds(1), cap: .seconds(8))

    func machine(requiresSecurity: Bool = false, seed: UInt64 = 7) -> Machine {
        Machine(requiresSecurity: requiresSecurity, backoff: backoff, seed: seed)
    }

    func testConnectsDiscoversAndSubscribesToEveryMeasurementOneAtATime() {
        var machine = machine()
        XCTAssertEqual(machine.handle(.start), [.connect])
        XCTAssertEqual(machine.handle(.connected), [.discover])
        XCTAssertEqual(machine.handle(.discovered([pressure, cuff])), [.subscribe(pressure)])
        XCTAssertEqual(machine.handle(.subscribed(pressure)), [.subscribe(cuff)])
        XCTAssertEqual(machine.handle(.subscribed(cuff)), [.reportUp([pressure, cuff])])
        guard case .receiving(let link) = machine.state else { return XCTFail("expected receiving, got \(machine.state)") }
        XCTAssertEqual(link.subscribed, [pressure, cuff])
        XCTAssertFalse(link.secured)
    }

    func testCCCDValuesFollowTheDeliveryKind() {
        XCTAssertEqual(heartRate.configurationValue, [0x01, 0x00])
        XCTAssertEqual(pressure.configurationValue, [0x02, 0x00])
    }

    func testADeviceThatRequiresPairingIsSecuredBeforeDiscovery() {
        var machine = machine(requiresSecurity: true)
        _ = machine.handle(.start)
        XCTAssertEqual(machine.handle(.connected), [.secure])
        XCTAssertEqual(machine.handle(.secured), [.discover])
        XCTAssertEqual(machine.handle(.discovered([pressure])), [.subscribe(pressure)])
        XCTAssertEqual(machine.handle(.subscribed(pressure)), [.reportUp([pressure])])
    }

    func testInsufficientEncryptionSecuresTheLinkAndAsksAgainOnce() {
        for code: UInt8 in [0x05, 0x0C, 0x0F] {
            var machine = machine()
            _ = machine.handle(.start)
            _ = machine.handle(.connected)
            _ = machine.handle(.discovered([pressure]))
            let refusal = SessionFailure(.subscribe, "refused", attError: code)
            XCTAssertEqual(machine.handle(.failed(refusal)), [.secure], "ATT error \(code)")
            XCTAssertEqual(machine.handle(.secured), [.subscribe(pressure)], "the refused subscription is asked again")
            XCTAssertEqual(machine.handle(.subscribed(pressure)), [.reportUp([pressure])])
        }
    }

    func testARefusalAfterSecuringEndsTheLink() {
        var machine = machine()
        _ = machine.handle(.start)
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([pressure]))
        let refusal = SessionFailure(.subscribe, "refused", attError: 0x0F)
        _ = machine.handle(.failed(refusal))
        _ = machine.handle(.secured)
        XCTAssertEqual(machine.handle(.failed(refusal)), [.reportFailure(refusal), .disconnect])
        XCTAssertEqual(machine.state, .closing(failures: 1))
        let actions = machine.handle(.disconnected(reason: 0x16))
        XCTAssertEqual(actions.count, 1)
        guard case .wait(let delay) = actions.first else { return XCTFail("expected a wait, got \(actions)") }
        XCTAssertTrue((Duration.milliseconds(500)...Duration.seconds(1)).contains(delay), "\(delay)")
        XCTAssertEqual(machine.handle(.reconnectDue), [.connect])
    }

    func testOtherATTErrorsAndFailedSecurityEndTheLink() {
        var machine = machine()
        _ = machine.handle(.start)
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([heartRate]))
        let notPermitted = SessionFailure(.subscribe, "write not permitted", attError: 0x03)
        XCTAssertEqual(machine.handle(.failed(notPermitted)), [.reportFailure(notPermitted), .disconnect])

        var secured = self.machine(requiresSecurity: true)
        _ = secured.handle(.start)
        _ = secured.handle(.connected)
        let pairingFailed = SessionFailure(.secure, "pairing failed: authentication requirements")
        XCTAssertEqual(secured.handle(.failed(pairingFailed)), [.reportFailure(pairingFailed), .disconnect])
    }

    func testADeviceWithoutMeasurementsIsAFailure() {
        var machine = machine()
        _ = machine.handle(.start)
        _ = machine.handle(.connected)
        let actions = machine.handle(.discovered([]))
        XCTAssertEqual(actions.last, .disconnect)
        guard case .reportFailure(let failure) = actions.first else { return XCTFail("\(actions)") }
        XCTAssertEqual(failure.stage, .discover)
    }

    func testConnectFailuresBackOffExponentiallyUpToTheCap() {
        var machine = machine()
        _ = machine.handle(.start)
        var ceilings: [Duration] = []
        for _ in 0..<6 {
            let actions = machine.handle(.connectFailed(SessionFailure(.connect, "timed out")))
            guard actions.count == 2, case .reportFailure = actions[0], case .wait(let delay) = actions[1] else {
                return XCTFail("expected a failure report and a wait, got \(actions)")
            }
            guard case .waiting(let failures) = machine.state else { return XCTFail("\(machine.state)") }
            let ceiling = backoff.ceiling(failures: failures)
            XCTAssertTrue(delay >= ceiling / 2 && delay <= ceiling, "\(delay) outside [\(ceiling / 2), \(ceiling)]")
            ceilings.append(ceiling)
            XCTAssertEqual(machine.handle(.reconnectDue), [.connect])
        }
        XCTAssertEqual(ceilings, [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
    }

    func testTheJitterIsReplayableFromTheSeedAndDiffersBetweenSeeds() {
        func delays(seed: UInt64) -> [Duration] {
            var machine = machine(seed: seed)
            _ = machine.handle(.start)
            var delays: [Duration] = []
            for _ in 0..<8 {
                if case .wait(let delay) = machine.handle(.connectFailed(SessionFailure(.connect, "x"))).last { delays.append(delay) }
                _ = machine.handle(.reconnectDue)
            }
            return delays
        }
        XCTAssertEqual(delays(seed: 1), delays(seed: 1))
        XCTAssertNotEqual(delays(seed: 1), delays(seed: 2))
    }

    func testALinkThatWorkedReconnectsAfterTheBaseDelay() {
        var machine = machine()
        _ = machine.handle(.start)
        for _ in 0..<3 {
            _ = machine.handle(.connectFailed(SessionFailure(.connect, "timed out")))
            _ = machine.handle(.reconnectDue)
        }
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([heartRate]))
        _ = machine.handle(.subscribed(heartRate))
        let actions = machine.handle(.disconnected(reason: 0x13))
        XCTAssertEqual(actions.first, .reportDisconnected(reason: 0x13))
        guard case .wait(let delay) = actions.last else { return XCTFail("\(actions)") }
        XCTAssertLessThanOrEqual(delay, .seconds(1), "failures were reset by the working link")
        XCTAssertEqual(machine.state, .waiting(failures: 1))
    }

    func testALinkLostDuringSetupCountsAsAFailure() {
        var machine = machine()
        _ = machine.handle(.start)
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([heartRate]))
        let actions = machine.handle(.disconnected(reason: 0x08))
        guard actions.count == 2, case .reportFailure(let failure) = actions[0], case .wait = actions[1] else {
            return XCTFail("\(actions)")
        }
        XCTAssertEqual(failure.stage, .link)
        XCTAssertTrue(failure.message.contains("0x08 connection timeout"), failure.message)
        XCTAssertEqual(machine.state, .waiting(failures: 1))
    }

    func testStopClosesALiveLinkAndIgnoresEverythingAfter() {
        var machine = machine()
        _ = machine.handle(.start)
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([heartRate]))
        _ = machine.handle(.subscribed(heartRate))
        XCTAssertEqual(machine.handle(.stop), [.disconnect])
        XCTAssertEqual(machine.state, .stopped)
        XCTAssertEqual(machine.handle(.disconnected(reason: 0x16)), [])
        XCTAssertEqual(machine.handle(.reconnectDue), [])

        var waiting = self.machine()
        _ = waiting.handle(.start)
        _ = waiting.handle(.connectFailed(SessionFailure(.connect, "timed out")))
        XCTAssertEqual(waiting.handle(.stop), [], "no link to close while waiting")
    }

    func testLateAndOutOfOrderEventsChangeNothing() {
        var machine = machine()
        _ = machine.handle(.start)
        XCTAssertEqual(machine.handle(.subscribed(heartRate)), [])
        XCTAssertEqual(machine.handle(.secured), [])
        XCTAssertEqual(machine.handle(.reconnectDue), [])
        _ = machine.handle(.connected)
        _ = machine.handle(.discovered([heartRate, pressure]))
        XCTAssertEqual(machine.handle(.subscribed(pressure)), [], "a reply for a request not in flight")
        XCTAssertEqual(machine.handle(.subscribed(heartRate)), [.subscribe(pressure)])
        XCTAssertEqual(machine.handle(.connected), [])
    }

    func testBackoffArithmetic() {
        let backoff = ReconnectBackoff(base: .milliseconds(250), cap: .seconds(60))
        XCTAssertEqual(backoff.ceiling(failures: 0), .zero)
        XCTAssertEqual(backoff.ceiling(failures: 1), .milliseconds(250))
        XCTAssertEqual(backoff.ceiling(failures: 3), .seconds(1))
        XCTAssertEqual(backoff.ceiling(failures: 1000), .seconds(60), "no overflow for long outages")
        var random = SplitMix64(seed: 3)
        for failures in 1...20 {
            let delay = backoff.delay(failures: failures, using: &random)
            let ceiling = backoff.ceiling(failures: failures)
            XCTAssertTrue(delay >= ceiling / 2 && delay <= ceiling)
        }
        XCTAssertEqual(ReconnectBackoff(base: .seconds(5), cap: .seconds(1)).cap, .seconds(5), "the cap is never below the base")
    }
}
