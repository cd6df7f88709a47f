import Foundation
import JSONQuery
import TestSupport
import Testing
import XCTest

/// Runs the official JMESPath compliance suite (jmespath.test) as published: one result per
/// case (`JMESPathComplianceCases`), and the checks over the whole suite here. Error cases pass
/// when any error of the named kind is thrown, at compile or evaluation time.
final class JMESPathComplianceTests: XCTestCase {
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
        guard let dir = try Conformance.directory("jmespath") else { return }
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
        guard let dir = try Conformance.directory("jmespath") else { return nil }
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

}

/// One result per case of the files with expected results (all but `benchmarks`).
@Suite struct JMESPathComplianceCases {
    static let files = [
        "basic", "boolean", "current", "escape", "filters", "functions", "identifiers", "indices", "literal", "pipe",
        "syntax", "unicode", "wildcard",
    ]

    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var given: JSONValue
        var expression: String
        var result: JSONValue?
        var error: String?
        var testDescription: String { "\(file).json: \(expression)" }
    }

    static let cases: [Case] = files.flatMap { file in
        ((try? JMESPathComplianceTests.load(file)) ?? []).flatMap { suite in
            suite.cases.filter { $0.error != nil || $0.result != nil }.map {
                Case(file: file, given: suite.given, expression: $0.expression, result: $0.result, error: $0.error)
            }
        }
    }

    /// Every file is there (under `CI=true` it must be) and has cases to check.
    @Test(arguments: files)
    func fileHasCases(_ file: String) throws {
        guard let suites = try JMESPathComplianceTests.load(file) else { return }
        #expect(suites.contains { suite in suite.cases.contains { $0.error != nil || $0.result != nil } }, "\(file).json has no cases")
    }

    @Test(arguments: cases)
    func compliance(_ testCase: Case) {
        if let expected = testCase.error {
            do {
                let got = try JMESPathExpression(testCase.expression).evaluate(testCase.given)
                Issue.record("got \(got), expected a \(expected) error")
            } catch {
                #expect(error.kind.rawValue == expected, "got \(error), expected a \(expected) error")
            }
        } else if let expected = testCase.result {
            do {
                let got = try JMESPathExpression(testCase.expression).evaluate(testCase.given)
                #expect(got == expected, "got \(got), expected \(expected)")
            } catch {
                Issue.record("got \(error), expected \(expected)")
            }
        }
    }
}
