import XCTest
@testable import JSONQuery

/// Numbers kept as text (beyond Int64, more digits than a Double) in JMESPath and both JSONPath
/// dialects: selected unchanged, compared exactly against integers and each other.
final class JSONExactNumberQueryTests: XCTestCase {
    let document = #"{"readings": [{"id": 12345678901234567891, "v": 1}, {"id": 12345678901234567892, "v": 2}, {"id": 7, "v": 3}]}"#

    func testJMESPathSelectsComparesAndSortsExactly() throws {
        let data = try JSONValue(parsing: document)
        func run(_ expression: String) throws -> String { JSONWriter().string(try JMESPathExpression(expression).evaluate(data)) }
        XCTAssertEqual(try run("readings[?id == `12345678901234567892`].v"), "[2]")
        XCTAssertEqual(try run("readings[?id > `12345678901234567891`].v"), "[2]")
        XCTAssertEqual(try run("readings[?id > `9223372036854775807`].v"), "[1,2]")
        XCTAssertEqual(try run("readings[0].id"), "12345678901234567891")
        XCTAssertEqual(try run("max_by(readings, &id).v"), "2")
        XCTAssertEqual(try run("sort_by(readings, &id)[*].v"), "[3,1,2]")
        XCTAssertEqual(try run("reverse(sort(readings[*].id))"), "[12345678901234567892,12345678901234567891,7]")
        XCTAssertEqual(try run("to_string(readings[1].id)"), #""12345678901234567892""#)
        XCTAssertEqual(try run("to_number('12345678901234567892')"), "12345678901234567892")
        XCTAssertEqual(try run("abs(`-12345678901234567892`)"), "12345678901234567892")
        XCTAssertEqual(try run("floor(`12345678901234567892`)"), "12345678901234567892")
        XCTAssertEqual(try run("type(`1e999999`)"), #""number""#)
        // Arithmetic is done on the nearest Double.
        XCTAssertEqual(try JMESPathExpression("add(readings[0].id, `1`)", functions: .medTech).evaluate(data).doubleValue, 12345678901234567891.0)
    }

    func testRFC9535FiltersCompareExactly() throws {
        let data = try JSONValue(parsing: document)
        func run(_ path: String) throws -> String { JSONWriter().string(.array(try JSONPathExpression(path, dialect: .rfc9535).select(data))) }
        XCTAssertEqual(try run("$.readings[?@.id == 12345678901234567892].v"), "[2]")
        XCTAssertEqual(try run("$.readings[?@.id < 12345678901234567892].v"), "[1,3]")
        XCTAssertEqual(try run("$.readings[*].id"), "[12345678901234567891,12345678901234567892,7]")
    }

    func testJsonNetFiltersCompareExactly() throws {
        let data = try JSONValue(parsing: document)
        func run(_ path: String) throws -> String { JSONWriter().string(.array(try JSONPathExpression(path, dialect: .jsonNet).select(data))) }
        XCTAssertEqual(try run("$.readings[?(@.id == 12345678901234567892)].v"), "[2]")
        XCTAssertEqual(try run("$..id"), "[12345678901234567891,12345678901234567892,7]")
    }
}
