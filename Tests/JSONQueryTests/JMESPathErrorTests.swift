import JSONQuery
import XCTest

/// Compile errors name the column (1-based, in Unicode scalars) and say why.
final class JMESPathErrorTests: XCTestCase {
    private func compileError(
        _ expression: String, functions: JMESPathFunctions = .standard,
        file: StaticString = #filePath, line: UInt = #line
    ) -> JMESPathError? {
        do {
            _ = try JMESPathExpression(expression, functions: functions)
            XCTFail("\(expression) compiled", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func assertError(
        _ expression: String, _ kind: JMESPathError.Kind, column: Int, mentions fragment: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error = compileError(expression, file: file, line: line) else { return }
        XCTAssertEqual(error.kind, kind, "\(expression): \(error)", file: file, line: line)
        XCTAssertEqual(error.column, column, "\(expression): \(error)", file: file, line: line)
        XCTAssertTrue(error.message.contains(fragment), "\(expression): '\(error.message)' lacks '\(fragment)'", file: file, line: line)
    }

    func testSyntaxErrorColumns() {
        assertError("foo[0 bar]", .syntax, column: 7, mentions: "expected ']' but found 'bar'")
        assertError("foo.", .syntax, column: 5, mentions: "end of the expression")
        assertError("foo.1", .syntax, column: 5, mentions: "after '.'")
        assertError("foo[?bar", .syntax, column: 9, mentions: "expected ']'")
        assertError("foo = bar", .syntax, column: 5, mentions: "'=='")
        assertError("a.b.c d", .syntax, column: 7, mentions: "after a complete expression")
        assertError("{a: b", .syntax, column: 6, mentions: "expected ',' or '}'")
        assertError("[a, b", .syntax, column: 6, mentions: "expected ',' or ']'")
        assertError("foo[1:2:3:4]", .syntax, column: 10, mentions: "at most three parts")
        assertError("`{\"a\": ` ", .syntax, column: 1, mentions: "invalid JSON")
        assertError("'abc", .syntax, column: 1, mentions: "unterminated")
        assertError("foo #", .syntax, column: 5, mentions: "unexpected character '#'")
        assertError("\"foo\"(@)", .syntax, column: 1, mentions: "quoted identifier")
        assertError("(a.b)(@)", .syntax, column: 6, mentions: "function name")
        // Columns count Unicode scalars, not bytes.
        assertError("\"☃\".[", .syntax, column: 6, mentions: "end of the expression")
    }

    func testFunctionErrorsAtCompileTime() {
        assertError("nope(@)", .unknownFunction, column: 1, mentions: "nope")
        assertError("a.b.nope(@)", .unknownFunction, column: 5, mentions: "nope")
        assertError("abs(@, @)", .invalidArity, column: 1, mentions: "takes 1 argument but was given 2")
        assertError("foo | not_null()", .invalidArity, column: 7, mentions: "at least 1")
        assertError("abs(@,)", .syntax, column: 7, mentions: "expected an expression")
    }

    func testEvaluationErrorsHaveNoColumn() throws {
        let expression = try JMESPathExpression("abs(foo)")
        XCTAssertThrowsError(try expression.evaluate(["foo": "x"])) { error in
            let error = error as? JMESPathError
            XCTAssertEqual(error?.kind, .invalidType)
            XCTAssertNil(error?.column)
            XCTAssertEqual(error?.message, "abs() expects argument 1 to be a number, but got string")
        }
        XCTAssertThrowsError(try JMESPathExpression("[::0]").evaluate([1, 2])) { error in
            XCTAssertEqual((error as? JMESPathError)?.kind, .invalidValue)
        }
    }

    func testDescriptionNamesKindAndColumn() {
        let error = compileError("foo[0 bar]")
        XCTAssertEqual(error?.description, "syntax error at column 7: expected ']' but found 'bar'")
    }
}
