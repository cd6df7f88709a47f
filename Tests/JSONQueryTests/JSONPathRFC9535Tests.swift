import JSONQuery
import XCTest

/// RFC 9535 behaviour the compliance suite does not pin down: where syntax errors point, how
/// normalized paths escape names, and the fast paths agreeing with full evaluation.
final class JSONPathRFC9535Tests: XCTestCase {
    private func assertSyntaxError(
        _ path: String, column: Int, containing text: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try JSONPathExpression(path, dialect: .rfc9535)
            XCTFail("\(path) compiled", file: file, line: line)
        } catch {
            XCTAssertEqual(error.column, column, "\(path): \(error)", file: file, line: line)
            XCTAssertTrue(error.message.contains(text), "\(path): \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains("column \(column)"), file: file, line: line)
        }
    }

    func testSyntaxErrorsSayWhereAndWhy() {
        assertSyntaxError("a.b", column: 1, containing: "'$'")
        assertSyntaxError("$.a-b", column: 4, containing: "after the query")
        assertSyntaxError("$.1", column: 3, containing: "['...']")
        assertSyntaxError("$[01]", column: 3, containing: "leading zeros")
        assertSyntaxError("$[-0]", column: 3, containing: "-0")
        assertSyntaxError("$[9007199254740992]", column: 3, containing: "2^53")
        assertSyntaxError("$['a\\x']", column: 5, containing: "escape")
        assertSyntaxError("$['a", column: 3, containing: "unterminated")
        assertSyntaxError("$[?@.a == @.*]", column: 11, containing: "singular")
        assertSyntaxError("$[?length(@.a)]", column: 4, containing: "compare it")
        assertSyntaxError("$[?match(@.a, 'x') == true]", column: 4, containing: "logical")
        assertSyntaxError("$[?count(1) == 1]", column: 10, containing: "query")
        assertSyntaxError("$[?foo(@) == 1]", column: 4, containing: "unknown function")
        assertSyntaxError("$[?@.a == 1", column: 12, containing: "']'")
        assertSyntaxError("$[?true]", column: 4, containing: "literal")
        assertSyntaxError("$[?(@.a]", column: 8, containing: "')'")
    }

    func testNormalizedPathsEscapeNames() throws {
        let document: JSONValue = ["a'b": 1, "c\\d": 2, "e\u{1F}f": 3, "g\nh": 4, "ü": 5]
        let paths = try JSONPathExpression("$.*", dialect: .rfc9535).selectWithPaths(document).map(\.path)
        XCTAssertEqual(paths, [#"$['a\'b']"#, #"$['c\\d']"#, #"$['e\u001ff']"#, #"$['g\nh']"#, "$['ü']"])
    }

    func testSingularFastPathAgreesWithFullEvaluation() throws {
        let document: JSONValue = ["a": ["b": [10, 20, ["c": nil]]]]
        for (path, expected) in [
            ("$.a.b[1]", [20]), ("$.a.b[-1].c", [nil]), ("$.a.x", []), ("$['a']['b'][5]", []), ("$", [document]),
        ] as [(String, [JSONValue])] {
            let expression = try JSONPathExpression(path, dialect: .rfc9535)
            XCTAssertEqual(try expression.select(document), expected, path)
            XCTAssertEqual(try expression.selectWithPaths(document).map(\.value), expected, path)
        }
    }

    func testNothingComparesEqualOnlyToNothing() throws {
        let document: JSONValue = [["a": nil], ["b": 1]]
        XCTAssertEqual(try JSONPathExpression("$[?@.a == null]", dialect: .rfc9535).select(document), [["a": nil]])
        XCTAssertEqual(try JSONPathExpression("$[?@.a != 1]", dialect: .rfc9535).select(document).count, 2)
        XCTAssertEqual(try JSONPathExpression("$[?@.a == @.c]", dialect: .rfc9535).select(document), [["b": 1]])
    }

    func testSourceAndDialectAreKept() throws {
        let expression = try JSONPathExpression("$.a", dialect: .rfc9535)
        XCTAssertEqual(expression.source, "$.a")
        XCTAssertEqual(expression.dialect, .rfc9535)
    }
}
