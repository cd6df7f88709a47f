import Testing
import Foundation
import EdgeCore
import JSONQuery
import Mapping
import TestSupport

/// Runs the device-template half of every IoMT conformance case (`iomt/cases/*`): template
/// load outcomes and problem lines, then each input message's measurements or error, compared
/// as the suite's README says. Cases listed in `IoMTExpectedFailures.json` must fail; a listed
/// case that starts passing fails the test so the list only shrinks.
@Suite struct IoMTNormalizeCaseTests {
    /// The suite is there (under `CI=true` it must be) with at least its 35 normalize and
    /// template-load cases, and the expected-failures list names only cases it holds.
    @Test func suiteIsTheReviewedOne() throws {
        guard let loaded = try IoMTCase.load() else { return }
        #expect(loaded.count >= 35, "the suite should hold at least the 35 normalize/template-load cases")
        let names = Set(loaded.map(\.name))
        for name in try Self.loadExpectedFailures().keys.sorted() where !names.contains(name) {
            Issue.record("\(name) is not in the suite; remove it from IoMTExpectedFailures.json")
        }
    }

    @Test(arguments: IoMTCase.all)
    func deviceTemplateCase(_ testCase: IoMTCase) throws {
        let problems = Self.check(caseDirectory: testCase.directory, expected: testCase.expected)
        if let why = try Self.loadExpectedFailures()[testCase.name] {
            #expect(!problems.isEmpty, "\(testCase.name) is listed as an expected failure (\(why)) but passes now: remove it from IoMTExpectedFailures.json")
        } else {
            #expect(problems.isEmpty, "\(testCase.name):\n  \(problems.joined(separator: "\n  "))")
        }
    }

    // MARK: One case

    private static func check(caseDirectory: URL, expected: JSONValue) -> [String] {
        var problems: [String] = []
        let templateURL = caseDirectory.appendingPathComponent("device-template.json")
        guard let templateText = try? String(contentsOf: templateURL, encoding: .utf8) else {
            return ["device-template.json is missing"]
        }
        let load = expected["deviceTemplateLoad"]
        let expectValid = load?["valid"] != .bool(false)
        let collection: DeviceTemplateCollection
        do {
            collection = try DeviceTemplateCollection(parsing: templateText, source: "device-template.json")
            guard expectValid else { return ["template loaded but the case expects load errors"] }
        } catch {
            guard !expectValid else { return ["template failed to load: \(error)"] }
            let wanted = load?["errors"]?.arrayValue ?? []
            if wanted.count != error.problems.count {
                problems.append("expected \(wanted.count) load problems, got \(error.problems.count): \(error)")
            }
            for (i, want) in wanted.enumerated() where i < error.problems.count {
                let got = error.problems[i]
                if let text = want["messageContains"]?.stringValue, !got.description.contains(text) {
                    problems.append("load problem \(i): expected to contain \"\(text)\", got \"\(got)\"")
                }
                if case .int(let line)? = want["line"], got.line != Int(line) {
                    problems.append("load problem \(i): expected line \(line), got \(got.line.map(String.init) ?? "none")")
                }
            }
            return problems
        }

        guard case .array(let results)? = expected["results"] else { return problems }
        let inputURL = caseDirectory.appendingPathComponent("input.json")
        guard let input = try? readJSON(inputURL) else { return ["input.json does not parse"] }
        let messages: [JSONValue] = input.arrayValue ?? [input]
        guard messages.count == results.count else {
            return ["\(messages.count) messages but \(results.count) results"]
        }
        for (i, (message, result)) in zip(messages, results).enumerated() {
            let outcome: Result<[Mapping.Measurement], NormalizationError>
            do {
                outcome = .success(try collection.normalize(message))
            } catch {
                outcome = .failure(error)
            }
            problems += compare(outcome, with: result).map { "message \(i): \($0)" }
        }
        return problems
    }

    private static func compare(_ outcome: Result<[Mapping.Measurement], NormalizationError>, with expected: JSONValue) -> [String] {
        switch (outcome, expected["outcome"]?.stringValue) {
        case (.success(let measurements), "measurements"):
            let wanted = expected["measurements"]?.arrayValue ?? []
            guard measurements.count == wanted.count else {
                return ["expected \(wanted.count) measurements, got \(measurements.count): \(measurements.map(\.normalizedJSON))"]
            }
            return zip(measurements, wanted).enumerated().flatMap { i, pair in
                compare(pair.0, with: pair.1).map { "measurement \(i): \($0)" }
            }
        case (.failure(let error), "error"):
            var problems: [String] = []
            let want = expected["error"]
            if let type = want?["type"]?.stringValue, type != error.type {
                problems.append("expected error type \(type), got \(error.type)")
            }
            if let text = want?["messageContains"]?.stringValue, !error.message.contains(text) {
                problems.append("expected error containing \"\(text)\", got \"\(error.message)\"")
            }
            if let text = want?["messageStartsWith"]?.stringValue, !error.message.hasPrefix(text) {
                problems.append("expected error starting \"\(text)\", got \"\(error.message)\"")
            }
            return problems
        case (.success(let measurements), _):
            return ["expected an error, got \(measurements.count) measurements"]
        case (.failure(let error), _):
            return ["expected measurements, got error \(error)"]
        }
    }

    private static func compare(_ m: Mapping.Measurement, with expected: JSONValue) -> [String] {
        var problems: [String] = []
        func check(_ name: String, _ actual: String?) {
            let want = expected[name]
            let wanted: String? = want?.stringValue
            if actual != wanted {
                problems.append("\(name): expected \(wanted ?? "null"), got \(actual ?? "null")")
            }
        }
        check("Type", m.type)
        check("DeviceId", m.deviceId)
        check("PatientId", m.patientId)
        check("EncounterId", m.encounterId)
        check("CorrelationId", m.correlationId)
        if let text = expected["OccurrenceTimeUtc"]?.stringValue {
            // Instants truncated to milliseconds (upstream keeps 100 ns ticks).
            if let want = Timestamp(parsingISO8601Lenient: text) {
                if want != m.occurrenceTime {
                    problems.append("OccurrenceTimeUtc: expected \(text), got \(m.occurrenceTime.iso8601)")
                }
            } else {
                problems.append("OccurrenceTimeUtc \(text) does not parse")
            }
        }
        let wanted = expected["Properties"]?.arrayValue ?? []
        guard wanted.count == m.properties.count else {
            problems.append("expected \(wanted.count) properties, got \(m.properties.map { "\($0.name)=\($0.value)" })")
            return problems
        }
        for (property, want) in zip(m.properties, wanted) {
            if property.name != want["Name"]?.stringValue {
                problems.append("property name: expected \(want["Name"]?.stringValue ?? "?"), got \(property.name)")
            }
            if let value = want["Value"]?.stringValue, value != property.value {
                problems.append("property \(property.name): expected \"\(value)\", got \"\(property.value)\"")
            }
            if let number = want["ValueNumeric"]?.doubleValue {
                let tolerance = want["tolerance"]?.doubleValue ?? 0
                if let actual = Double(property.value), (actual - number).magnitude <= tolerance {
                    continue
                }
                problems.append("property \(property.name): expected \(number) ± \(tolerance), got \"\(property.value)\"")
            }
        }
        return problems
    }

    // MARK: Files

    private static func readJSON(_ url: URL) throws -> JSONValue {
        try JSONValue(parsing: Data(contentsOf: url))
    }

    /// `[{"case": ..., "why": ...}]` beside this file.
    private static func loadExpectedFailures() throws -> [String: String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("IoMTExpectedFailures.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        var list: [String: String] = [:]
        for entry in try readJSON(url).arrayValue ?? [] {
            guard let name = entry["case"]?.stringValue else { continue }
            list[name] = entry["why"]?.stringValue ?? ""
        }
        return list
    }
}
