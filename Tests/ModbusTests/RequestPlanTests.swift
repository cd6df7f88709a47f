import Modbus
import XCTest

final class RequestPlanTests: XCTestCase {
    func point(_ name: String, _ table: ModbusTable, _ address: UInt16, _ type: RegisterValueType = .uint16) -> RegisterPoint {
        RegisterPoint(name: name, table: table, address: address, type: type)
    }

    func testContiguousPointsMergeAndTablesStaySeparate() {
        let points = [
            point("co2", .input, 3), point("temperature", .input, 1, .int16), point("humidity", .input, 2),
            point("model", .holding, 10, .string(registers: 8)), point("firmware", .holding, 18),
            point("door", .discrete, 1, .bit(index: nil)), point("alarm", .discrete, 0, .bit(index: nil)),
        ]
        let plan = RequestPlan(points: points, settings: ModbusPollSettings(unit: 1))
        XCTAssertEqual(plan.reads.map(\.request), [
            ModbusReadRequest(unit: 1, table: .holding, address: 10, count: 9),
            ModbusReadRequest(unit: 1, table: .input, address: 1, count: 3),
            ModbusReadRequest(unit: 1, table: .discrete, address: 0, count: 2),
        ])
        XCTAssertEqual(plan.describe(points: points), [
            "unit 1 holding 10+9: model firmware", "unit 1 input 1+3: temperature humidity co2", "unit 1 discrete 0+2: alarm door",
        ])
        XCTAssertEqual(plan.reads[1].placements.map(\.offset), [0, 1, 2])
        XCTAssertEqual(plan.registerCount, 14)
    }

    func testGapThresholdDecidesWhetherNearPointsMerge() {
        let points = [point("a", .holding, 0), point("b", .holding, 4), point("c", .holding, 20, .float32)]
        let strict = RequestPlan(points: points, settings: ModbusPollSettings(maxGap: 0))
        XCTAssertEqual(strict.reads.map(\.request.address), [0, 4, 20])
        let near = RequestPlan(points: points, settings: ModbusPollSettings(maxGap: 3))
        XCTAssertEqual(near.reads.map(\.request.count), [5, 2])
        let wide = RequestPlan(points: points, settings: ModbusPollSettings(maxGap: 15))
        XCTAssertEqual(wide.reads.map(\.request.count), [22])
        XCTAssertEqual(wide.reads[0].placements.map(\.offset), [0, 4, 20])
    }

    func testDeviceLimitSplitsRequests() {
        let points = (0..<10).map { point("p\($0)", .holding, UInt16($0 * 2), .float32) }
        let plan = RequestPlan(points: points, settings: ModbusPollSettings(maxRegistersPerRequest: 6))
        XCTAssertEqual(plan.reads.map(\.request.count), [6, 6, 6, 2])
        XCTAssertTrue(plan.reads.allSatisfy { $0.request.count <= 6 })
        let bits = (0..<2500).map { point("b\($0)", .coil, UInt16($0), .bit(index: nil)) }
        XCTAssertEqual(RequestPlan(points: bits, settings: ModbusPollSettings()).reads.map(\.request.count), [2000, 500])
    }

    func testPlanningOffIsOneRequestPerPoint() {
        let points = [point("a", .input, 0), point("b", .input, 1), point("c", .input, 2)]
        let plan = RequestPlan(points: points, settings: ModbusPollSettings(mergesRequests: false))
        XCTAssertEqual(plan.reads.count, 3)
    }

    func testOverlappingPointsShareRegisters() {
        let points = [point("status", .input, 5), point("co2High", .input, 5, .bit(index: 0))]
        let plan = RequestPlan(points: points, settings: ModbusPollSettings())
        XCTAssertEqual(plan.reads.map(\.request.count), [1])
        XCTAssertEqual(plan.reads[0].placements.map(\.offset), [0, 0])
    }

    func testPointProblems() {
        XCTAssertNotNil(point("x", .coil, 0, .uint16).problem)
        XCTAssertNotNil(point("x", .holding, 0, .bit(index: nil)).problem)
        XCTAssertNotNil(point("x", .holding, 65535, .float32).problem)
        XCTAssertNil(point("x", .holding, 65534, .float32).problem)
    }
}
