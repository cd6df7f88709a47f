import EdgeCore
import Foundation
import JSONQuery
import XCTest

/// Hostile and malformed expressions must produce errors, never crashes or stack overflows.
final class JMESPathRobustnessTests: XCTestCase {

    func testRandomMutationsOfComplianceExpressions() throws {
        var corpus: [(String, JSONValue)] = []
        for name in ["basic", "boolean", "filters", "functions", "indices", "literal", "pipe", "syntax", "wildcard", "benchmarks"] {
            guard let suites = try JMESPathComplianceTests.load(name) else { return }
            for suite in suites {
                for testCase in suite.cases { corpus.append((testCase.expression, suite.given)) }
            }
        }
        XCTAssertGreaterThan(corpus.count, 500)
        let alphabet = Array("abcxyz019-_.*[]{}()?|&!<>=,:@'`\"\\ \u{2603}".unicodeScalars)
        var random = SplitMix64(seed: 0x5EED_1234)
        var compiled = 0
        var evaluated = 0
        let iterations = 20_000
        for _ in 0..<iterations {
            let (source, given) = corpus[Int(random.next() % UInt64(corpus.count))]
            var scalars = Array(source.unicodeScalars)
            for _ in 0...(random.next() % 3) {
                let position = scalars.isEmpty ? 0 : Int(random.next() % UInt64(scalars.count + 1))
                switch random.next() % 3 {
                case 0 where position < scalars.count:
                    scalars.remove(at: position)
                case 1 where position + 1 < scalars.count:
                    scalars.swapAt(position, position + 1)
                default:
                    scalars.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
                }
            }
            var mutated = String.UnicodeScalarView()
            mutated.append(contentsOf: scalars)
            let functions: JMESPathFunctions = random.next() % 2 == 0 ? .standard : .medTech
            guard let expression = try? JMESPathExpression(String(mutated), functions: functions) else { continue }
            compiled += 1
            _ = expression.isProjection
            if (try? expression.evaluate(given)) != nil { evaluated += 1 }
        }
        print("JMESPath mutation test: \(iterations) mutants, \(compiled) compiled, \(evaluated) evaluated without error")
        XCTAssertGreaterThan(compiled, iterations / 10, "mutations should not all be rejected")
    }

    func testDeepNestingIsAnErrorNotAStackOverflow() {
        let depth = 10_000
        let hostile: [String] = [
            String(repeating: "(", count: depth) + "a" + String(repeating: ")", count: depth),
            String(repeating: "[", count: depth),
            String(repeating: "[", count: depth) + "a" + String(repeating: "]", count: depth),
            String(repeating: "{a:", count: depth) + "b" + String(repeating: "}", count: depth),
            String(repeating: "!", count: depth) + "a",
            String(repeating: "&", count: depth) + "a",
            String(repeating: "[?", count: depth),
            String(repeating: "abs(", count: depth) + "@" + String(repeating: ")", count: depth),
            Array(repeating: "a", count: depth).joined(separator: "||"),
            Array(repeating: "a", count: depth).joined(separator: " == "),
            "a" + String(repeating: "[*]", count: depth),
            "a" + String(repeating: "[]", count: depth),
            String(repeating: "*.", count: depth) + "a",
        ]
        // Chains are kept flat, so any length is fine.
        let chains = [
            Array(repeating: "a", count: depth).joined(separator: "."),
            Array(repeating: "a", count: depth).joined(separator: "|"),
            "a" + String(repeating: "[0]", count: depth),
        ]
        // Nesting just inside the cap must work too, including evaluation.
        let limit = 63
        let deepest = [
            String(repeating: "(", count: limit) + "a" + String(repeating: ")", count: limit),
            String(repeating: "abs(", count: limit) + "`1`" + String(repeating: ")", count: limit),
            String(repeating: "[", count: limit) + "a" + String(repeating: "]", count: limit),
            "a" + String(repeating: "[*].a", count: limit - 1),
            String(repeating: "!", count: limit) + "a",
        ]
        // A small stack (what a secondary thread may get, in an unoptimised build) proves the
        // depth cap is low enough.
        let outcomes = Outcomes()
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            for source in hostile {
                do throws(JMESPathError) {
                    let expression = try JMESPathExpression(source)
                    _ = try expression.evaluate(["a": ["a": 1]])
                    outcomes.append("accepted: \(source.prefix(20))")
                } catch {
                    outcomes.append(error.kind == .syntax ? "syntax" : "\(error.kind): \(source.prefix(20))")
                }
            }
            for source in chains + deepest {
                do throws(JMESPathError) {
                    _ = try JMESPathExpression(source).evaluate(["a": ["a": 1]])
                    outcomes.append("accepted")
                } catch {
                    outcomes.append("\(error): \(source.prefix(20))")
                }
            }
        }
        thread.stackSize = 8 * 1024 * 1024
        thread.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(
            outcomes.all,
            Array(repeating: "syntax", count: hostile.count) + Array(repeating: "accepted", count: chains.count + deepest.count))
    }

    func testDeepButReasonableNestingWorks() throws {
        let source = String(repeating: "(", count: 50) + "a" + String(repeating: ")", count: 50)
        XCTAssertEqual(try JMESPathExpression(source).evaluate(["a": 7]), 7)
        let chain = Array(repeating: "a", count: 60).joined(separator: ".")
        var document: JSONValue = 1
        for _ in 0..<60 { document = ["a": document] }
        XCTAssertEqual(try JMESPathExpression(chain).evaluate(document), 1)
    }

    func testDeepDocumentsEvaluate() throws {
        var document: JSONValue = []
        for _ in 0..<500 { document = [document] }
        let expression = try JMESPathExpression("[to_string(@), length(@), @ == @, sort_by([@], &to_string(@))[0] == @]")
        let result = try expression.evaluate(document)
        XCTAssertEqual(result[safe: 1], 1)
        XCTAssertEqual(result[safe: 2], true)
        XCTAssertEqual(result[safe: 3], true)
    }
}

private final class Outcomes: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.withLock { items.append(item) } }
    var all: [String] { lock.withLock { items } }
}

private extension JSONValue {
    subscript(safe index: Int) -> JSONValue? {
        guard let elements = arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}
