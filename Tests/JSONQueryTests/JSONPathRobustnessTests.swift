import EdgeCore
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Hostile and malformed input: errors are fine, crashes and hangs are not.
final class JSONPathRobustnessTests: XCTestCase {

    static let alphabet: [Character] = Array("$@.[]()?*:,'\"\\-0123456789abcxyz =!<>&|~/ \t\u{1F600}é{}^+")

    static func mutate(_ text: String, using rng: inout SplitMix64) -> String {
        var chars = Array(text)
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = chars.isEmpty ? 0 : Int.random(in: 0..<chars.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !chars.isEmpty:
                chars.remove(at: position)
            case 1:
                chars.insert(alphabet.randomElement(using: &rng) ?? "$", at: position)
            case 2 where !chars.isEmpty:
                chars[position] = alphabet.randomElement(using: &rng) ?? "$"
            case 3 where chars.count > 1:
                let end = Int.random(in: position..<chars.count, using: &rng)
                chars.insert(contentsOf: chars[position...end], at: end + 1)
            default:
                if !chars.isEmpty { chars.swapAt(position, Int.random(in: 0..<chars.count, using: &rng)) }
            }
        }
        return String(chars)
    }

    func testMutatedComplianceSelectorsNeverCrash() throws {
        guard let dir = try Conformance.directory("jsonpath") else { return }
        let suite = try JSONValue(parsing: [UInt8](Data(contentsOf: dir.appendingPathComponent("cts.json"))))
        let tests = try XCTUnwrap(suite["tests"]?.arrayValue)
        let documents = tests.compactMap { $0["document"] }
        let selectors = tests.compactMap { $0["selector"]?.stringValue }
        var rng = SplitMix64(seed: 9535)
        var compiled = [JSONPathExpression.Dialect.rfc9535: 0, .jsonNet: 0]
        let rounds = 10_000
        for _ in 0..<rounds {
            let selector = Self.mutate(selectors.randomElement(using: &rng) ?? "$", using: &rng)
            let document = documents.randomElement(using: &rng) ?? .null
            for dialect in [JSONPathExpression.Dialect.rfc9535, .jsonNet] {
                do {
                    let expression = try JSONPathExpression(selector, dialect: dialect)
                    compiled[dialect, default: 0] += 1
                    _ = try? expression.select(document)
                    _ = try? expression.selectWithPaths(document)
                } catch {
                    XCTAssertNotNil(error.column, "\(dialect) \(selector.debugDescription): \(error)")
                    XCTAssertFalse(error.message.isEmpty)
                }
            }
        }
        // The mutations must exercise evaluation too, not only the parsers' error paths.
        XCTAssertGreaterThan(compiled[.rfc9535] ?? 0, rounds / 50)
        XCTAssertGreaterThan(compiled[.jsonNet] ?? 0, rounds / 50)
    }

    func testDeepNestingIsAnErrorInBothDialects() {
        let depth = 10_000
        let cases: [(String, JSONPathExpression.Dialect)] = [
            ("$[?" + String(repeating: "(", count: depth) + "@" + String(repeating: ")", count: depth) + "]", .rfc9535),
            ("$" + String(repeating: "[?@", count: depth) + String(repeating: "]", count: depth), .rfc9535),
            ("$[?" + String(repeating: "length(", count: depth) + "@" + String(repeating: ")", count: depth) + "==1]", .rfc9535),
            ("$" + String(repeating: "[?(@", count: depth) + String(repeating: ")]", count: depth), .jsonNet),
        ]
        for (path, dialect) in cases {
            XCTAssertThrowsError(try JSONPathExpression(path, dialect: dialect)) { error in
                XCTAssertTrue((error as? JSONPathError)?.message.contains("deeper") ?? false, "\(error)")
            }
        }
    }

    func testHostileRegexesFailOrFinishQuickly() throws {
        let long = String(repeating: "a", count: 5000)
        let document = JSONValue.array([.string(long + "b"), .string(long)])
        // Nested groups beyond the limit, huge repetitions and exponential-backtracking shapes.
        let patterns = [
            String(repeating: "(", count: 2000) + "a" + String(repeating: ")", count: 2000),
            "a{1000}{1000}",
            "(a*)*b", "(a|a)*b", "(a+)+$", "((a*)*)*c",
        ]
        let start = Date()
        for pattern in patterns {
            let rfc = try JSONPathExpression("$[?match(@, '\(pattern)')]", dialect: .rfc9535)
            _ = try rfc.select(document)
            _ = try? JSONPathExpression("$[?(@ =~ /\(pattern)/)]", dialect: .jsonNet).select(document)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "regex matching must stay linear")
        XCTAssertEqual(try JSONPathExpression("$[?search(@, '(a+)+b')]", dialect: .rfc9535).select(document).count, 1)
    }

    func testDeepDocumentsAreWalkedWithoutRecursion() throws {
        var value: JSONValue = ["x": 1]
        for i in 0..<400 { value = i.isMultiple(of: 2) ? ["a": value, "x": 1] : ["l": [value]] }
        XCTAssertEqual(try JSONPathExpression("$..x", dialect: .rfc9535).select(value).count, 201)
        XCTAssertEqual(try JSONPathExpression("$..[?(@x)]", dialect: .jsonNet).select(value).count, 201)
    }

    /// Not a pass/fail benchmark: prints throughput for the typical MedTech type match, and
    /// checks that one compiled expression can be reused across many documents.
    func testThroughputOfATypicalTypeMatch() throws {
        let expression = try JSONPathExpression("$..[?(@heartRate)]", dialect: .jsonNet)
        let message = try JSONValue(parsing: #"{"Body":{"heartRate":"78","endDate":"2019-02-01T22:46:01.875Z","deviceId":"d1"},"Properties":{"a":"b"},"SystemProperties":{"iothub-connection-device-id":"d1"}}"#)
        let iterations = 20_000
        let start = Date()
        var selected = 0
        for _ in 0..<iterations { selected += try expression.select(message).count }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(selected, iterations)
        print("JSONPath $..[?(@heartRate)]: \(Int(Double(iterations) / max(seconds, 1e-9))) selects/s")
    }
}
