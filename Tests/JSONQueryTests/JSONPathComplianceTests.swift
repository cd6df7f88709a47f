import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Runs the RFC 9535 JSONPath Compliance Test Suite (`cts.json`) as published under the
/// `rfc9535` dialect. Every case must pass except those named in
/// `JSONPathExpectedFailures.json`; a listed case that starts passing fails the test too, so the
/// list only shrinks.
final class JSONPathComplianceTests: XCTestCase {
    struct ExpectedFailure: Decodable {
        var name: String
        var why: String
    }

    func testComplianceSuite() throws {
        guard let dir = Conformance.directory("jsonpath") else { return }
        let data = try Data(contentsOf: dir.appendingPathComponent("cts.json"))
        let suite = try JSONValue(parsing: [UInt8](data))
        let tests = try XCTUnwrap(suite["tests"]?.arrayValue)
        XCTAssertEqual(tests.count, 703, "the suite changed size; review the expected-failures list")

        var failures: [String: String] = [:]
        for test in tests {
            let name = test["name"]?.stringValue ?? "?"
            if let why = Self.run(test) { failures[name] = why }
        }

        let listURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("JSONPathExpectedFailures.json")
        let expected = try JSONDecoder().decode([ExpectedFailure].self, from: Data(contentsOf: listURL))
        let expectedNames = Set(expected.map(\.name))
        for (name, why) in failures.sorted(by: { $0.key < $1.key }) where !expectedNames.contains(name) {
            XCTFail("\(name): \(why)")
        }
        for name in expectedNames.sorted() where failures[name] == nil {
            XCTFail("\(name) now passes; remove it from JSONPathExpectedFailures.json")
        }
        print("JSONPath compliance: \(tests.count - failures.count)/\(tests.count) passed")
    }

    /// nil when the case passes, else why it failed.
    static func run(_ test: JSONValue) -> String? {
        let selector = test["selector"]?.stringValue ?? ""
        if test["invalid_selector"] == .bool(true) {
            do {
                _ = try JSONPathExpression(selector, dialect: .rfc9535)
                return "accepted an invalid selector \(selector.debugDescription)"
            } catch {
                return error.column == nil ? "syntax error without a column" : nil
            }
        }
        guard let document = test["document"] else { return "no document" }
        let nodes: [(path: String, value: JSONValue)]
        do {
            nodes = try JSONPathExpression(selector, dialect: .rfc9535).selectWithPaths(document)
        } catch {
            return "rejected \(selector.debugDescription): \(error)"
        }
        let values = JSONValue.array(nodes.map(\.value))
        let paths = JSONValue.array(nodes.map { .string($0.path) })
        if let result = test["result"] {
            if !exactlyEqual(values, result) { return "selected \(values), expected \(result)" }
            if let expectedPaths = test["result_paths"], !exactlyEqual(paths, expectedPaths) {
                return "paths \(paths), expected \(expectedPaths)"
            }
            return nil
        }
        guard let results = test["results"]?.arrayValue else { return "no expected result" }
        let resultPaths = test["results_paths"]?.arrayValue
        for (i, result) in results.enumerated() where exactlyEqual(values, result) {
            if let resultPaths, i < resultPaths.count, !exactlyEqual(paths, resultPaths[i]) { continue }
            return nil
        }
        return "selected \(values) with paths \(paths), expected one of \(JSONValue.array(results))"
    }

    /// JSON equality that also tells apart strings differing only in Unicode normalization.
    static func exactlyEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { exactlyEqual($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.members.allSatisfy { key, value in
                guard let other = y[key] else { return false }
                return exactlyEqual(value, other)
            }
        default: return a == b
        }
    }
}
