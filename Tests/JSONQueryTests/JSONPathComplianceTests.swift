import Foundation
import JSONQuery
import TestSupport
import Testing

/// Runs the RFC 9535 JSONPath Compliance Test Suite (`cts.json`) as published under the
/// `rfc9535` dialect, one result per case. Every case must pass except those named in
/// `JSONPathExpectedFailures.json`; a listed case that starts passing fails too, so the list
/// only shrinks.
@Suite struct JSONPathComplianceTests {
    struct ExpectedFailure: Decodable {
        var name: String
        var why: String
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var test: JSONValue
        var testDescription: String { name }
    }

    static let cases: [Case] = (try? loadCases()) ?? []

    static func loadCases() throws -> [Case]? {
        guard let dir = try Conformance.directory("jsonpath") else { return nil }
        let suite = try JSONValue(parsing: [UInt8](try Data(contentsOf: dir.appendingPathComponent("cts.json"))))
        return (suite["tests"]?.arrayValue ?? []).map { Case(name: $0["name"]?.stringValue ?? "?", test: $0) }
    }

    static let expectedFailures: Set<String> = {
        let listURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("JSONPathExpectedFailures.json")
        let list = (try? JSONDecoder().decode([ExpectedFailure].self, from: Data(contentsOf: listURL))) ?? []
        return Set(list.map(\.name))
    }()

    /// The suite is there (under `CI=true` it must be), has the size the expected-failures list
    /// was reviewed against, and lists no case it does not hold.
    @Test func suiteIsTheReviewedOne() throws {
        guard let loaded = try Self.loadCases() else { return }
        #expect(loaded.count == 703, "the suite changed size; review the expected-failures list")
        let names = Set(loaded.map(\.name))
        for name in Self.expectedFailures.sorted() where !names.contains(name) {
            Issue.record("\(name) is not in the suite; remove it from JSONPathExpectedFailures.json")
        }
    }

    @Test(arguments: cases)
    func compliance(_ testCase: Case) {
        let why = Self.run(testCase.test)
        if Self.expectedFailures.contains(testCase.name) {
            #expect(why != nil, "\(testCase.name) now passes; remove it from JSONPathExpectedFailures.json")
        } else {
            #expect(why == nil, "\(testCase.name): \(why ?? "")")
        }
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
