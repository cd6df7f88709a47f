import EdgeCore
import JSONQuery
@testable import Modbus
import TestSupport
import XCTest

final class PollerTests: XCTestCase {
    /// Collects poll results with the clock's time at delivery.
    final class Results: Sendable {
        struct Entry: Sendable {
            var device: String
            var at: Duration
            var result: ModbusPollResult
        }

        private let entries = Locked<[Entry]>([])
        let clock: ManualClock
        init(clock: ManualClock) { self.clock = clock }
        func record(_ result: ModbusPollResult) {
            let at = clock.now.offset
            entries.withLock { $0.append(Entry(device: result.device.name, at: at, result: result)) }
        }

        func of(_ device: String) -> [Entry] { entries.withLock { $0.filter { $0.device == device } } }
    }

    func device(_ name: String, unit: UInt8, interval: Duration = .seconds(1), timeout: Duration = .milliseconds(300)) -> ModbusDevice {
        ModbusDevice(
            name: name, profile: ProfileID("test"),
            points: [
                RegisterPoint(name: "tick", table: .input, address: 0, type: .uint16),
                RegisterPoint(name: "temperature", table: .input, address: 1, type: .int16, scale: 0.1, unit: "Cel"),
                RegisterPoint(name: "label", table: .holding, address: 20, type: .string(registers: 2)),
            ],
            settings: ModbusPollSettings(unit: unit, interval: interval, timeout: timeout, retries: 1))
    }

    func poller(_ link: FakeModbusLink, _ devices: [ModbusDevice], _ clock: ManualClock, _ results: Results) -> ModbusLinkPoller<ManualClock> {
        ModbusLinkPoller(
            link: link, devices: devices, clock: clock,
            wallClock: { Timestamp(millisecondsSinceEpoch: 1_800_000_000_000 + Int64(clock.now.offset.components.seconds * 1000)) },
            onPoll: { results.record($0) })
    }

    /// Runs pollers on the manual clock until `end`, then cancels them.
    func simulate(_ pollers: [ModbusLinkPoller<ManualClock>], clock: ManualClock, until end: Duration) async throws {
        let tasks = pollers.map { poller in Task { await poller.run() } }
        defer { for task in tasks { task.cancel() } }
        try await clock.run(until: end, tasks: pollers.count)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    func testSilentDeviceOnAnotherLinkNeverDelaysHealthyOnes() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let healthyLink = FakeModbusLink(endpoint: "tcp a", clock: clock)
        let silentLink = FakeModbusLink(endpoint: "tcp b", clock: clock)
        silentLink.set(unit: 4, .silent)
        try await simulate(
            [poller(healthyLink, [device("room", unit: 1)], clock, results),
             poller(silentLink, [device("offline", unit: 4, timeout: .seconds(3))], clock, results)],
            clock: clock, until: .seconds(10))
        // Every second on the dot, although the other link spends 3 s in each timeout.
        XCTAssertEqual(results.of("room").map(\.at), (0...10).map { Duration.seconds($0) })
        XCTAssertTrue(results.of("room").allSatisfy(\.result.isComplete))
        let offline = results.of("offline")
        XCTAssertFalse(offline.isEmpty)
        XCTAssertTrue(offline.allSatisfy { $0.result.message == nil && $0.result.errorName == "timeout" })
    }

    func testSilentUnitOnASharedBusCostsAtMostItsTimeout() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let bus = FakeModbusLink(endpoint: "rtu /dev/ttyUSB0", clock: clock)
        bus.set(unit: 4, .silent)
        let devices = [device("room", unit: 1), device("offline", unit: 4), device("panel", unit: 2)]
        try await simulate([poller(bus, devices, clock, results)], clock: clock, until: .seconds(20))
        for name in ["room", "panel"] {
            let polls = results.of(name)
            XCTAssertEqual(polls.count, 21, name)
            for (second, poll) in polls.enumerated() {
                // Delayed by at most one timeout of the silent unit, and back on the grid after it.
                let late = poll.at - .seconds(second)
                XCTAssertTrue(late >= .zero && late <= .milliseconds(300), "\(name) poll \(second) at \(poll.at)")
            }
        }
        // One request per poll of the dead unit (no retries once down), and it backs off.
        let offlineRequests = bus.sent.filter { $0.request.unit == 4 }
        let offlinePolls = results.of("offline")
        XCTAssertEqual(offlineRequests.count, offlinePolls.count, "a timeout is not retried within a poll")
        XCTAssertLessThan(offlinePolls.count, 8)
        let gaps = zip(offlinePolls.dropFirst(), offlinePolls).map { $0.at - $1.at }
        XCTAssertEqual(gaps.first, .seconds(1), "\(offlinePolls.map(\.at))")
        XCTAssertTrue(zip(gaps.dropFirst(), gaps).allSatisfy { $0 >= $1 }, "backoff grows: \(gaps)")
    }

    func testMessageCarriesScaledPointsAndNamesFailedOnes() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let link = FakeModbusLink(endpoint: "tcp a", clock: clock)
        link.set(unit: 3, register: 0, 7)
        link.set(unit: 3, register: 1, UInt16(bitPattern: -201))
        link.exception(unit: 3, table: .holding, address: 20, .illegalDataAddress)
        let poller = poller(link, [], clock, results)
        let result = await poller.poll(device("sensor", unit: 3))
        XCTAssertFalse(result.isComplete)
        XCTAssertEqual(result.errorName, "illegal data address")
        XCTAssertEqual(result.failures.map(\.points), [["label"]])
        let message = try XCTUnwrap(result.message)
        XCTAssertEqual(message["deviceId"], "sensor")
        XCTAssertEqual(message["unit"], .int(3))
        XCTAssertEqual(message["time"], .string(Timestamp(millisecondsSinceEpoch: 1_800_000_000_000).iso8601))
        XCTAssertEqual(message["points"], ["tick": .int(7), "temperature": .double(-20.1)])
        XCTAssertEqual(message["errors"], ["label": "illegal data address"])
        XCTAssertNil(message["patientId"])
        // Exceptions are not retried (the device said no), and the link is not reset for them.
        XCTAssertEqual(result.requests, 2)
        XCTAssertEqual(link.closes, 0)
    }

    func testHealthyDeviceRetriesALostReplyAndBusyAnswers() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let link = FakeModbusLink(endpoint: "tcp a", clock: clock)
        link.set(unit: 1, .fails(ModbusError(.badReply, "wrong transaction id"), times: 1))
        let poller = poller(link, [], clock, results)
        let first = await poller.poll(device("room", unit: 1))
        XCTAssertTrue(first.isComplete)
        XCTAssertEqual(first.requests, 3)
        XCTAssertEqual(first.retries, 1)
        XCTAssertEqual(link.closes, 1, "a bad reply resets the link")

        link.set(unit: 1, .fails(ModbusError(.exception(.serverDeviceBusy), "busy"), times: 5))
        let busy = await poller.poll(device("room", unit: 1))
        XCTAssertNil(busy.message)
        XCTAssertEqual(busy.errorName, "server device busy")

        link.set(unit: 1, .fails(ModbusError(.connection, "refused"), times: 1))
        let unretried = await poller.poll(device("room", unit: 1), retrying: false)
        XCTAssertNil(unretried.message, "a connection failure ends the poll")
        XCTAssertEqual(unretried.requests, 1)
    }

    func testInterRequestDelayAndPlanningOff() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let link = FakeModbusLink(endpoint: "tcp a", clock: clock)
        var slow = device("slow", unit: 1)
        slow = ModbusDevice(
            name: "slow", profile: slow.profile, points: slow.points,
            settings: ModbusPollSettings(unit: 1, interval: .seconds(5), interRequestDelay: .milliseconds(50), mergesRequests: false))
        try await simulate([poller(link, [slow], clock, results)], clock: clock, until: .seconds(1))
        XCTAssertEqual(link.sent.map(\.at), [.zero, .milliseconds(50), .milliseconds(100)])
        XCTAssertEqual(link.sent.map(\.request.count), [2, 1, 1])
    }

    func testAPollCutShortByShutdownIsNotDelivered() async throws {
        let clock = ManualClock()
        let results = Results(clock: clock)
        let link = FakeModbusLink(endpoint: "tcp a", clock: clock)
        link.set(unit: 4, .silent)
        let poller = poller(link, [device("offline", unit: 4)], clock, results)
        let task = Task { await poller.run() }
        try await clock.run(until: .zero, tasks: 1)  // the first request waits for its timeout
        task.cancel()
        await task.value
        XCTAssertTrue(results.of("offline").isEmpty, "no failure recorded for a poll that shutdown interrupted")
        XCTAssertGreaterThanOrEqual(link.closes, 1, "the link is closed on the way out")

        let offline = device("offline", unit: 4)
        let single = Task { await poller.poll(offline) }
        try await clock.run(until: .zero, tasks: 1)
        single.cancel()
        let result = await single.value
        XCTAssertTrue(result.interrupted)
        XCTAssertNil(result.message)
    }

    func testScheduleSkipsMissedSlotsAndBacksOff() {
        var schedule = PollSchedule(intervals: [.seconds(1), .seconds(2)])
        XCTAssertEqual(schedule.next()?.device, 0)
        XCTAssertEqual(schedule.finished(0, at: .milliseconds(3500), succeeded: true), 3)
        XCTAssertEqual(schedule.slots[0].due, .seconds(4))
        XCTAssertEqual(schedule.next()?.device, 1)
        schedule.finished(1, at: .seconds(4), succeeded: false)
        XCTAssertEqual(schedule.slots[1].due, .seconds(4), "first failure: due again at the next slot or now")
        XCTAssertFalse(schedule.isHealthy(1))
        schedule.finished(1, at: .seconds(4), succeeded: false)
        XCTAssertEqual(schedule.slots[1].due, .seconds(8))
        schedule.finished(1, at: .seconds(8), succeeded: false)
        XCTAssertEqual(schedule.slots[1].due, .seconds(16))
        schedule.finished(1, at: .seconds(16), succeeded: true)
        XCTAssertEqual(schedule.slots[1].due, .seconds(18))
        XCTAssertTrue(schedule.isHealthy(1))
        var capped = PollSchedule(intervals: [.seconds(10)], maxBackoff: .seconds(30))
        for _ in 0..<10 { capped.finished(0, at: capped.slots[0].due, succeeded: false) }
        XCTAssertEqual(capped.slots[0].due, .seconds(10 + 20 + 30 * 8))
    }
}
