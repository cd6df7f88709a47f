import EdgeCore
import JSONQuery
import Modbus
import TestSupport
import XCTest

/// The poller through the real link against the project's own peer (Tests/peers/modbus_peer.py),
/// so that a fresh clone without ../shared runs it too: every type and byte order of its unit 1,
/// next to its unit 4 that never answers, on one connection.
final class OwnPeerPollingTests: XCTestCase {
    static let points = [
        RegisterPoint(name: "u16", table: .holding, address: 1, type: .uint16),
        RegisterPoint(name: "i16", table: .holding, address: 2, type: .int16),
        RegisterPoint(name: "scaled_temperature", table: .holding, address: 3, type: .int16, scale: 0.1, unit: "Cel"),
        RegisterPoint(name: "i32_abcd", table: .holding, address: 10, type: .int32, order: .abcd),
        RegisterPoint(name: "u32_cdab", table: .holding, address: 12, type: .uint32, order: .cdab),
        RegisterPoint(name: "f32_badc", table: .holding, address: 16, type: .float32, order: .badc),
        RegisterPoint(name: "f32_dcba", table: .holding, address: 20, type: .float32, order: .dcba),
        RegisterPoint(name: "i64_abcdefgh", table: .holding, address: 30, type: .int64, order: .abcd),
        RegisterPoint(name: "u64_hgfedcba", table: .holding, address: 34, type: .uint64, order: .dcba),
        RegisterPoint(name: "f64_badcfehg", table: .holding, address: 38, type: .float64, order: .badc),
        RegisterPoint(name: "f64_ghefcdab", table: .holding, address: 42, type: .float64, order: .cdab),
        RegisterPoint(name: "label", table: .holding, address: 50, type: .string(registers: 4)),
        RegisterPoint(name: "coil3", table: .coil, address: 3, type: .bit(index: nil)),
        RegisterPoint(name: "discrete1", table: .discrete, address: 1, type: .bit(index: nil)),
    ]

    static let expected: JSONValue = [
        "u16": .int(54321), "i16": .int(-1234), "scaled_temperature": .double(21.5), "i32_abcd": .int(-123_456_789),
        "u32_cdab": .int(3_000_000_000), "f32_badc": .double(123_456), "f32_dcba": .double(123_456),
        "i64_abcdefgh": .int(-1_234_567_890_123), "u64_hgfedcba": .double(18_000_000_000_000_000_000),
        "f64_badcfehg": .double(1234.5), "f64_ghefcdab": .double(-0.125), "label": "RM-100", "coil3": true, "discrete1": true,
    ]

    func testTypesAndOrdersNextToASilentUnitOnOneConnection() async throws {
        guard let peer = try ModbusPeer.start(.own, .tcp) else { return }
        defer { peer.stop() }
        let interval = Duration.milliseconds(500)
        let types = ModbusDevice(
            name: "types", profile: ProfileID("test"), points: Self.points, settings: ModbusPollSettings(unit: 1, interval: interval))
        let silent = ModbusDevice(
            name: "silent", profile: ProfileID("test"), points: [Self.points[0]],
            settings: ModbusPollSettings(unit: 4, interval: interval, timeout: .milliseconds(300)))
        XCTAssertEqual(types.plan.reads.count, 8, types.plan.describe(points: types.points).joined(separator: "\n"))
        let results = Locked<[ModbusPollResult]>([])
        let link = LibmodbusLink(.tcp(host: peer.host, port: peer.port))
        let poller = ModbusLinkPoller(
            link: link, devices: [types, silent], clock: ContinuousClock(), wallClock: { Timestamp(millisecondsSinceEpoch: 0) },
            onPoll: { result in results.withLock { $0.append(result) } })
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await poller.run() }
            try? await Task.sleep(for: .seconds(3))
            group.cancelAll()
        }
        let all = results.withLock { $0 }
        let healthy = all.filter { $0.device.name == "types" }
        XCTAssertGreaterThanOrEqual(healthy.count, 5, "the healthy unit kept its schedule")
        for result in healthy {
            XCTAssertTrue(result.isComplete, "\(result.failures.map(\.error.message)) after \(result.elapsed)")
            XCTAssertEqual(result.message?["points"], Self.expected)
        }
        let dead = all.filter { $0.device.name == "silent" }
        XCTAssertFalse(dead.isEmpty)
        XCTAssertTrue(dead.allSatisfy { $0.errorName == "timeout" && $0.message == nil })
        XCTAssertLessThan(dead.count, healthy.count, "the silent unit backs off")
    }
}
