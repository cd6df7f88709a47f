import Foundation
import JSONQuery
import TestSupport
import XCTest

/// The 130 vectors of the eight Azure MedTech custom functions, plus the opt-in rule.
final class JMESPathMedTechFunctionTests: XCTestCase {
    func testVectors() throws {
        guard let dir = try Conformance.directory("iomt") else { return }
        let data = try Data(contentsOf: dir.appendingPathComponent("vectors/jmespath-custom-functions.json"))
        let document = try JSONValue(parsing: [UInt8](data))
        let cases = document["cases"]?.arrayValue ?? []
        XCTAssertEqual(cases.count, 130)
        var failures: [String] = []
        for vector in cases {
            guard let expression = vector["expression"]?.stringValue else {
                failures.append("a vector without an expression")
                continue
            }
            let given = vector["given"] ?? .null
            let label = "\(expression) on \(given)"
            if let expected = vector["error"]?.stringValue {
                let compiled: JMESPathExpression
                do {
                    compiled = try JMESPathExpression(expression, functions: .medTech)
                } catch {
                    if !expected.hasPrefix("parse-error") {
                        failures.append("\(label): compile failed with \(error), expected a \(expected) error at evaluation")
                    }
                    continue
                }
                if expected.hasPrefix("parse-error") {
                    failures.append("\(label): compiled, expected a compile error")
                    continue
                }
                do {
                    let got = try compiled.evaluate(given)
                    failures.append("\(label): got \(got), expected a \(expected) error")
                } catch {
                    if error.kind.rawValue != expected {
                        failures.append("\(label): got \(error), expected a \(expected) error")
                    }
                }
                continue
            }
            guard let expected = vector["result"], let resultType = vector["resultType"]?.stringValue else {
                failures.append("\(label): vector has neither error nor result")
                continue
            }
            let got: JSONValue
            do {
                got = try JMESPathExpression(expression, functions: .medTech).evaluate(given)
            } catch {
                failures.append("\(label): got \(error), expected \(expected)")
                continue
            }
            let tolerance = vector["tolerance"]?.doubleValue ?? 0
            switch (resultType, got) {
            case ("integer", .int), ("float", .double), ("string", .string), ("datetime-utc", .string):
                if let a = got.doubleValue, let b = expected.doubleValue {
                    if Swift.abs(a - b) > tolerance && !(a == b) {
                        failures.append("\(label): got \(got), expected \(expected) within \(tolerance)")
                    }
                } else if got != expected {
                    failures.append("\(label): got \(got), expected \(expected)")
                }
            default:
                failures.append("\(label): got \(got) (\(got.typeName)), expected a \(resultType) \(expected)")
            }
        }
        print("JMESPath MedTech vectors: \(cases.count - failures.count)/\(cases.count) passed")
        XCTAssertEqual(failures.count, 0, failures.joined(separator: "\n"))
    }

    func testCustomFunctionsAreOptIn() throws {
        for expression in ["add(`1`, `2`)", "fromUnixTimestamp(`0`)", "insertString('a', 'b', `0`)"] {
            XCTAssertThrowsError(try JMESPathExpression(expression)) { error in
                XCTAssertEqual((error as? JMESPathError)?.kind, .unknownFunction, expression)
                XCTAssertEqual((error as? JMESPathError)?.column, 1, expression)
            }
            XCTAssertNoThrow(try JMESPathExpression(expression, functions: .medTech), expression)
        }
        // The standard built-ins stay available in the MedTech set.
        XCTAssertEqual(try JMESPathExpression("length(@)", functions: .medTech).evaluate("abc"), 3)
    }

    func testResultTypesAndEdgeCases() throws {
        func run(_ expression: String, _ document: JSONValue = .null) throws -> JSONValue {
            try JMESPathExpression(expression, functions: .medTech).evaluate(document)
        }
        XCTAssertEqual(try run("divide(`7`, `2`)"), .int(3))
        XCTAssertEqual(try run("divide(`-7`, `2`)"), .int(-3))
        if case .double(let d) = try run("divide(`7.0`, `2`)") { XCTAssertEqual(d, 3.5) } else { XCTFail("expected a float") }
        if case .double(let d) = try run("divide(`1.0`, `0`)") { XCTAssertEqual(d, .infinity) } else { XCTFail("expected a float") }
        XCTAssertEqual(try run("add(`9223372036854775807`, `1`)"), .int(.min))
        XCTAssertEqual(try run("multiply(`4611686018427387904`, `2`)"), .int(.min))
        XCTAssertEqual(try run("pow(`2`, `10`)"), .int(1024))
        XCTAssertEqual(try run("pow(`2`, `-1`)"), .int(0), "0.5 rounds half to even like Convert.ToInt64")
        XCTAssertEqual(try run("pow(`3`, `-1`)"), .int(0))
        XCTAssertThrowsError(try run("pow(`0`, `-1`)")) { XCTAssertEqual(($0 as? JMESPathError)?.kind, .overflow) }
        XCTAssertThrowsError(try run("divide(`-9223372036854775808`, `-1`)")) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .overflow)
        }
        XCTAssertEqual(try run("fromUnixTimestampMs(`1626799080123`)"), "2021-07-20T16:38:00.123Z")
        XCTAssertEqual(try run("fromUnixTimestampMs(`-1`)"), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(try run("fromUnixTimestamp(`951782400`)"), "2000-02-29T00:00:00Z")
        XCTAssertEqual(try run("fromUnixTimestamp(`253402300799`)"), "9999-12-31T23:59:59Z")
        XCTAssertEqual(try run("fromUnixTimestamp(`-62135596800`)"), "0001-01-01T00:00:00Z")
        XCTAssertThrowsError(try run("fromUnixTimestamp(`253402300800`)")) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .outOfRange)
        }
        XCTAssertThrowsError(try run("fromUnixTimestamp(`9223372036854775807`)")) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .outOfRange)
        }
        XCTAssertThrowsError(try run("fromUnixTimestamp(`1.0`)")) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .invalidType)
        }
        XCTAssertEqual(try run("insertString('héllo', '-', `2`)"), "hé-llo")
        XCTAssertEqual(try run("insertString('', 'x', `0`)"), "x")
        XCTAssertThrowsError(try run("insertString('abc', 'x', `9223372036854775807`)")) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .outOfRange)
        }
        // Arity is checked when the template loads.
        XCTAssertThrowsError(try JMESPathExpression("add(`1`)", functions: .medTech)) {
            XCTAssertEqual(($0 as? JMESPathError)?.kind, .invalidArity)
        }
    }
}
