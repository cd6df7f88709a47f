import EdgeCore
import Foundation
import Gateway
import JSONQuery
import Modbus
import TestSupport
import XCTest

/// The poller and the profiles through the real libmodbus link against ../shared/modbus-rig
/// (SKIP lines when it or the venv is absent): values at a fixed tick, every byte order, an
/// offline unit next to healthy ones, a late reply, a restart, RTU.
final class RigPollingTests: XCTestCase {
    var rigs: [ModbusPeer] = []

    override func tearDown() {
        for rig in rigs { rig.stop() }
        rigs = []
    }

    func startRig(_ transport: ModbusPeer.Transport = .tcp, tick: Int? = 25) throws -> ModbusPeer? {
        let arguments = tick.map { ["--clock", "fixed", "--start-tick", String($0)] } ?? []
        guard let rig = try ModbusPeer.start(.rig, transport, extraArguments: arguments) else { return nil }
        rigs.append(rig)
        return rig
    }

    func endpoint(_ rig: ModbusPeer) -> ModbusEndpoint {
        switch rig.transport {
        case .tcp: return .tcp(host: rig.host, port: rig.port)
        case .rtu: return .rtu(ModbusSerialLine(device: rig.device, baud: rig.baud, parity: ModbusSerialLine.Parity(rawValue: rig.parity) ?? .even))
        }
    }

    static let profiles = ["modbus-room-monitor", "modbus-gas-panel", "modbus-patient-room-sensor"]

    func profileDevice(_ name: String, unit: UInt8? = nil, deviceID: String? = nil, edit: (inout ModbusPollSettings) -> Void = { _ in }) throws -> ModbusDevice {
        let (profile, map) = try ModbusProfiles.load(folder: ProfileGoldenTests.profilesDirectory.appendingPathComponent(name).path)
        var settings = map.settings
        if let unit { settings.unit = unit }
        edit(&settings)
        return ModbusDevice(name: deviceID ?? name, profile: profile.id, patientID: "patient-0017", points: map.points, settings: settings)
    }

    /// The golden message's points at tick 25 (the rig's values, decoded and scaled).
    func goldenPoints(_ profile: String) throws -> JSONValue? {
        let url = ProfileGoldenTests.profilesDirectory.appendingPathComponent("\(profile)/testcases/tick-25.json")
        return try JSONValue(parsing: [UInt8](Data(contentsOf: url)))["message"]?["points"]
    }

    func poller(_ link: any ModbusLink, _ devices: [ModbusDevice] = [], onPoll: @escaping @Sendable (ModbusPollResult) async -> Void = { _ in }) -> ModbusLinkPoller<ContinuousClock> {
        ModbusLinkPoller(link: link, devices: devices, clock: ContinuousClock(), wallClock: { Timestamp(millisecondsSinceEpoch: 0) }, onPoll: onPoll)
    }

    func testEveryProfileReadsTheRigsValuesOverTCP() async throws {
        guard let rig = try startRig() else { return }
        for name in Self.profiles {
            let link = LibmodbusLink(endpoint(rig))
            let result = await poller(link).poll(try profileDevice(name))
            await link.close()
            XCTAssertTrue(result.isComplete, "\(name): \(result.failures.map(\.error.message))")
            XCTAssertEqual(result.message?["points"], try goldenPoints(name), name)
        }
    }

    func testEveryByteOrderOfTheOrderTestBlock() async throws {
        guard let rig = try startRig() else { return }
        let orders: [(String, UInt16, ByteOrder)] = [("abcd", 120, .abcd), ("badc", 122, .badc), ("cdab", 124, .cdab), ("dcba", 126, .dcba)]
        var points = orders.map { RegisterPoint(name: $0.0, table: .holding, address: $0.1, type: .float32, order: $0.2) }
        points.append(RegisterPoint(name: "m3", table: .holding, address: 112, type: .float64, order: .abcd))
        points.append(RegisterPoint(name: "delta", table: .holding, address: 110, type: .int32))
        points.append(RegisterPoint(name: "air", table: .holding, address: 108, type: .uint32, order: .cdab))
        let device = ModbusDevice(name: "orders", profile: ProfileID("test"), points: points, settings: ModbusPollSettings(unit: 2))
        XCTAssertEqual(device.plan.reads.count, 2, "108–115 and 120–127 (a hole between)")
        let link = LibmodbusLink(endpoint(rig))
        let result = await poller(link).poll(device)
        await link.close()
        XCTAssertEqual(result.message?["points"], ["air": .int(65655), "delta": .int(-62500), "m3": .double(1237.625),
                                                   "abcd": .double(123481), "badc": .double(123481), "cdab": .double(123481), "dcba": .double(123481)])
    }

    func testExceptionsAreNamedAndOnlyFailTheirPoints() async throws {
        guard let rig = try startRig(tick: 1) else { return }
        var points = try profileDevice("modbus-patient-room-sensor").points
        points.append(RegisterPoint(name: "channel", table: .holding, address: 30, type: .uint16))
        points.append(RegisterPoint(name: "busy_probe", table: .holding, address: 31, type: .uint16))
        points.append(RegisterPoint(name: "contact", table: .coil, address: 0, type: .bit(index: nil)))
        // Unmerged: holding 30 and 31 would otherwise share one request and one answer.
        let device = ModbusDevice(name: "sensor", profile: ProfileID("test"), points: points, settings: ModbusPollSettings(unit: 3, retries: 0, mergesRequests: false))
        let link = LibmodbusLink(endpoint(rig))
        let result = await poller(link).poll(device)
        await link.close()
        XCTAssertEqual(result.message?["errors"], [
            "channel": "server device failure", "busy_probe": "server device busy", "contact": "illegal function",
        ])
        XCTAssertEqual(result.message?["points"]?["room_label"], "R-12A")
    }

    /// Unit 4 never answers. On its own connection it never delays units 1-3 on theirs; on one
    /// shared connection it costs them at most its timeout per poll.
    func testAnOfflineUnitNextToHealthyOnes() async throws {
        guard let rig = try startRig(tick: nil) else { return }
        let starts = Locked<[String: [ContinuousClock.Instant]]>([:])
        let failures = Locked<[String: [String]]>([:])
        let record: @Sendable (ModbusPollResult) async -> Void = { result in
            let start = ContinuousClock.now - result.elapsed
            starts.withLock { $0[result.device.name, default: []].append(start) }
            if let error = result.errorName { failures.withLock { $0[result.device.name, default: []].append(error) } }
        }
        let interval = Duration.milliseconds(400)
        func devices() throws -> [ModbusDevice] {
            try zip(Self.profiles, 1...3).map { name, unit in
                try profileDevice(name, deviceID: "unit\(unit)") { $0.interval = interval }
            } + [try profileDevice("modbus-room-monitor", unit: 4, deviceID: "unit4") { $0.interval = interval; $0.timeout = .milliseconds(1500) }]
        }
        // Own connection per unit.
        let separate = try devices().map { poller(LibmodbusLink(endpoint(rig)), [$0], onPoll: record) }
        await runFor(.seconds(4), separate)
        for unit in 1...3 {
            let polls = starts.withLock { $0["unit\(unit)"] ?? [] }
            XCTAssertGreaterThanOrEqual(polls.count, 7, "unit \(unit) kept its schedule")
            let gaps = zip(polls.dropFirst(), polls).map { $0 - $1 }
            XCTAssertTrue(gaps.allSatisfy { $0 < .milliseconds(1200) }, "unit \(unit) never waited for unit 4's timeouts: \(gaps)")
            XCTAssertEqual(failures.withLock { $0["unit\(unit)"] ?? [] }, [])
        }
        XCTAssertEqual(Set(failures.withLock { $0["unit4"] ?? [] }), ["timeout"])

        // One connection for all four: the dead unit costs at most its timeout (and backs off).
        starts.withLock { $0 = [:] }
        failures.withLock { $0 = [:] }
        let sharedDevices = try devices().map { device in
            var device = device
            if device.settings.unit == 4 {
                device = ModbusDevice(name: device.name, profile: device.profile, points: device.points,
                                      settings: { var s = device.settings; s.timeout = .milliseconds(300); return s }())
            }
            return device
        }
        await runFor(.seconds(4), [poller(LibmodbusLink(endpoint(rig)), sharedDevices, onPoll: record)])
        for unit in 1...3 {
            let polls = starts.withLock { $0["unit\(unit)"] ?? [] }
            XCTAssertGreaterThanOrEqual(polls.count, 6, "unit \(unit) on the shared connection")
            let gaps = zip(polls.dropFirst(), polls).map { $0 - $1 }
            XCTAssertTrue(gaps.allSatisfy { $0 < interval + .milliseconds(300) + .milliseconds(600) }, "unit \(unit): \(gaps)")
            XCTAssertEqual(failures.withLock { $0["unit\(unit)"] ?? [] }, [], "values never shifted onto the wrong unit")
        }
        XCTAssertLessThan(starts.withLock { $0["unit4"]?.count ?? 0 }, 6, "the offline unit backs off")
    }

    func runFor(_ duration: Duration, _ pollers: [ModbusLinkPoller<ContinuousClock>]) async {
        await withTaskGroup(of: Void.self) { group in
            for poller in pollers { group.addTask { await poller.run() } }
            try? await Task.sleep(for: duration)
            group.cancelAll()
        }
    }

    func testALateReplyAfterATimeoutNeverShiftsValues() async throws {
        guard let rig = try startRig() else { return }
        try rig.fault("delay 0.8 unit=2 count=1")
        let device = try profileDevice("modbus-gas-panel") { $0.timeout = .milliseconds(400); $0.retries = 0 }
        let link = LibmodbusLink(endpoint(rig))
        let poller = poller(link)
        let first = await poller.poll(device)
        XCTAssertNil(first.message)
        XCTAssertEqual(first.errorName, "timeout")
        for _ in 0..<3 {
            let next = await poller.poll(device)
            XCTAssertTrue(next.isComplete, "\(next.failures.map(\.error.message))")
            XCTAssertEqual(next.message?["points"], try goldenPoints("modbus-gas-panel"))
        }
        await link.close()
    }

    func testARestartedServerIsReconnected() async throws {
        guard let rig = try startRig() else { return }
        let device = try profileDevice("modbus-room-monitor") { $0.retries = 0 }
        let link = LibmodbusLink(endpoint(rig))
        let poller = poller(link)
        let before = await poller.poll(device)
        XCTAssertTrue(before.isComplete)
        try rig.control("restart down=1 nowait")
        var sawFailure = false
        var recovered = false
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let result = await poller.poll(device)
            if result.message == nil { sawFailure = true }
            if sawFailure, result.isComplete {
                recovered = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        await link.close()
        XCTAssertTrue(sawFailure, "the restart was seen")
        XCTAssertTrue(recovered, "polls came back after the restart")
    }

    func testRTUOverAPtyPair() async throws {
        guard let rig = try startRig(.rtu) else { return }
        let link = LibmodbusLink(endpoint(rig))
        let poller = poller(link)
        for name in Self.profiles {
            let result = await poller.poll(try profileDevice(name))
            XCTAssertTrue(result.isComplete, "\(name): \(result.failures.map(\.error.message))")
            XCTAssertEqual(result.message?["points"], try goldenPoints(name), name)
        }
        // A silent unit on the bus, then a healthy one: its answer is its own.
        let silent = await poller.poll(try profileDevice("modbus-room-monitor", unit: 4) { $0.timeout = .milliseconds(300) })
        XCTAssertEqual(silent.errorName, "timeout")
        let after = await poller.poll(try profileDevice("modbus-gas-panel"))
        XCTAssertEqual(after.message?["points"], try goldenPoints("modbus-gas-panel"))
        await link.close()
    }
}
