import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Runs the official JMESPath compliance suite (jmespath.test) as published, one test per file.
/// Error cases pass when any error of the named kind is thrown, at compile or evaluation time.
final class JMESPathComplianceTests: XCTestCase {
    func testBasic() throws { try runSuite("basic") }
    func testBoolean() throws { try runSuite("boolean") }
    func testCurrent() throws { try runSuite("current") }
    func testEscape() throws { try runSuite("escape") }
    func testFilters() throws { try runSuite("filters") }
    func testFunctions() throws { try runSuite("functions") }
    func testIdentifiers() throws { try runSuite("identifiers") }
    func testIndices() throws { try runSuite("indices") }
    func testLiteral() throws { try runSuite("literal") }
    func testPipe() throws { try runSuite("pipe") }
    func testSyntax() throws { try runSuite("syntax") }
    func testUnicode() throws { try runSuite("unicode") }
    func testWildcard() throws { try runSuite("wildcard") }

    /// Benchmark cases have no expected value; they must compile and evaluate, except the
    /// 104-level nested projection, which the nesting cap (64) rejects by design.
    func testBenchmarkExpressionsRun() throws {
        guard let suites = try Self.load("benchmarks") else { return }
        var failures: [String] = []
        for suite in suites {
            for testCase in suite.cases {
                do {
                    _ = try JMESPathExpression(testCase.expression).evaluate(suite.given)
                } catch {
                    let overDeep = error.kind == .syntax && error.message.contains("nested more than")
                    if !(overDeep && testCase.expression.hasPrefix("a[*].b[*].c[*]")) {
                        failures.append("benchmarks.json: \(testCase.expression): \(error)")
                    }
                }
            }
        }
        XCTAssertEqual(failures, [])
    }

    /// Every file of the suite has a test above, so a new upstream file cannot go unnoticed.
    func testEveryFileIsCovered() throws {
        guard let dir = Conformance.directory("jmespath") else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("tests").path)
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        XCTAssertEqual(files, [
            "basic", "benchmarks", "boolean", "current", "escape", "filters", "functions", "identifiers",
            "indices", "literal", "pipe", "syntax", "unicode", "wildcard",
        ])
    }

    // MARK: - Runner

    struct Case {
        var expression: String
        var result: JSONValue?
        var error: String?
    }

    struct Suite {
        var given: JSONValue
        var cases: [Case]
    }

    static func load(_ name: String) throws -> [Suite]? {
        guard let dir = Conformance.directory("jmespath") else { return nil }
        let data = try Data(contentsOf: dir.appendingPathComponent("tests/\(name).json"))
        let document = try JSONValue(parsing: [UInt8](data))
        return (document.arrayValue ?? []).map { suite in
            Suite(
                given: suite["given"] ?? .null,
                cases: (suite["cases"]?.arrayValue ?? []).compactMap { c in
                    guard let expression = c["expression"]?.stringValue else { return nil }
                    return Case(expression: expression, result: c["result"], error: c["error"]?.stringValue)
                })
        }
    }

    private func runSuite(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let suites = try Self.load(name) else { return }
        var failures: [String] = []
        var checked = 0
        for suite in suites {
            for testCase in suite.cases {
                if let expected = testCase.error {
                    checked += 1
                    do {
                        let got = try JMESPathExpression(testCase.expression).evaluate(suite.given)
                        failures.append("\(name).json: \(testCase.expression): got \(got), expected a \(expected) error")
                    } catch {
                        if error.kind.rawValue != expected {
                            failures.append("\(name).json: \(testCase.expression): got \(error), expected a \(expected) error")
                        }
                    }
                } else if let expected = testCase.result {
                    checked += 1
                    do {
                        let got = try JMESPathExpression(testCase.expression).evaluate(suite.given)
                        if got != expected {
                            failures.append("\(name).json: \(testCase.expression): got \(got), expected \(expected)")
                        }
                    } catch {
                        failures.append("\(name).json: \(testCase.expression): got \(error), expected \(expected)")
                    }
                }
            }
        }
        print("JMESPath compliance \(name).json: \(checked - failures.count)/\(checked) passed")
        for failure in failures { print("  FAIL \(failure)") }
        XCTAssertGreaterThan(checked, 0, "\(name).json has no cases", file: file, line: line)
        XCTAssertEqual(failures.count, 0, failures.joined(separator: "\n"), file: file, line: line)
    }
}
