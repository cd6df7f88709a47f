import Foundation
import JSONQuery
import TestSupport
import Testing

/// One case folder of the IoMT conformance suite (`iomt/cases/<name>`), with its `expected.json`,
/// as an argument of the parameterised IoMT tests (one result per case).
struct IoMTCase: Sendable, CustomTestStringConvertible {
    var name: String
    var directory: URL
    var expected: JSONValue
    var testDescription: String { name }

    /// Empty without the suite; each suite's `suiteIsTheReviewedOne` reports that (a failure under `CI=true`).
    static let all: [IoMTCase] = (try? load()) ?? []

    static func load() throws -> [IoMTCase]? {
        guard let suite = try Conformance.directory("iomt") else { return nil }
        let cases = suite.appendingPathComponent("cases")
        return try FileManager.default.contentsOfDirectory(atPath: cases.path).sorted().map { name in
            let directory = cases.appendingPathComponent(name)
            let expected = try JSONValue(parsing: Array(try Data(contentsOf: directory.appendingPathComponent("expected.json"))))
            return IoMTCase(name: name, directory: directory, expected: expected)
        }
    }
}
