import EdgeCore
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// The `fhir-edge map` contract, end to end through the binary: it reproduces the IoMT cases.
final class MapCommandTests: XCTestCase {
    func testReproducesEveryIoMTCase() throws {
        guard let iomt = try Conformance.directory("iomt") else { return }
        let cases = try FileManager.default.contentsOfDirectory(atPath: iomt.appendingPathComponent("cases").path).sorted()
        var checked = 0
        for name in cases {
            let dir = iomt.appendingPathComponent("cases/\(name)")
            let expected = try json(dir.appendingPathComponent("expected.json"))
            let stage = expected["stage"]?.stringValue ?? ""
            guard stage != "group" else { continue }
            var arguments = ["map", "--device-template", dir.appendingPathComponent("device-template.json").path]
            let fhirTemplate = dir.appendingPathComponent("fhir-template.json")
            if FileManager.default.fileExists(atPath: fhirTemplate.path) { arguments += ["--fhir-template", fhirTemplate.path] }
            if let context = try? json(dir.appendingPathComponent("context.json")),
                context["resourceIdentityResolutionType"]?.stringValue == "Create"
            {
                arguments += ["--identity", "create"]
                if let system = context["defaultDeviceIdentifierSystem"]?.stringValue { arguments += ["--device-system", system] }
            }
            if let grouping = expected["fhir"]?["grouping"]?.stringValue { arguments += ["--grouping", grouping] }
            arguments.append(dir.appendingPathComponent("input.json").path)
            let run = try CommandRunner.run(arguments)

            if stage == "template-load" || expected["results"]?.stringValue == "not-run" {
                XCTAssertEqual(run.status, 2, "\(name): an unusable template exits 2")
                XCTAssertTrue(run.stderr.contains("template"), "\(name): stderr names the template: \(run.stderr)")
                checked += 1
                continue
            }
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            let output = try JSONValue(parsing: run.stdout)
            let got = output["results"]?.arrayValue ?? []
            let want = expected["results"]?.arrayValue ?? []
            XCTAssertEqual(got.count, want.count, "\(name): one result per message")
            for (index, (g, w)) in zip(got, want).enumerated() {
                XCTAssertEqual(g["outcome"], w["outcome"], "\(name) message \(index)")
                if w["outcome"]?.stringValue == "error" {
                    if let contains = w["error"]?["messageContains"]?.stringValue {
                        XCTAssertTrue(g["error"]?["message"]?.stringValue?.contains(contains) ?? false, "\(name) message \(index): \(g)")
                    }
                    continue
                }
                let gm = g["measurements"]?.arrayValue ?? []
                let wm = w["measurements"]?.arrayValue ?? []
                XCTAssertEqual(gm.count, wm.count, "\(name) message \(index)")
                for (a, b) in zip(gm, wm) { assertMeasurement(a, matches: b, name) }
            }
            if let wantObservations = expected["fhir"]?["observations"] {
                XCTAssertEqual(
                    normalizedObservations(output["observations"] ?? .null), normalizedObservations(wantObservations),
                    "\(name): observations")
            }
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 45, "every case ran")
        print("IoMT cases through fhir-edge map: \(checked) checked")
    }

    func testUnusableInputExitsTwoWithTheReason() throws {
        let profile = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals").path
        let run = try CommandRunner.run(
            ["map", "--device-template", "\(profile)/devicecontent.json", "-"], stdin: Data("{\"heartRate\": 7".utf8))
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("line 1"), run.stderr)

        let missing = try CommandRunner.run(["map", "--device-template", "/nonexistent/devicecontent.json", "-"], stdin: Data("{}".utf8))
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/devicecontent.json"), missing.stderr)
    }

    func testDemoProfileMapsTheBundledMessages() throws {
        let profile = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals").path
        let run = try CommandRunner.run([
            "map", "--device-template", "\(profile)/devicecontent.json", "--fhir-template", "\(profile)/fhirmapping.json",
            "--identity", "create", "\(profile)/testcases/vitals-input.json",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = try JSONValue(parsing: run.stdout)
        let outcomes = output["results"]?.arrayValue?.compactMap { $0["outcome"]?.stringValue }
        XCTAssertEqual(outcomes, ["measurements", "measurements", "measurements", "error"])
        let observations = output["observations"]?.arrayValue ?? []
        let codes = observations.compactMap { $0["code"]?["coding"]?[0]?["code"]?.stringValue }
        XCTAssertEqual(codes.sorted(), ["59408-5", "8310-5", "85354-9", "8867-4", "8867-4"])
        XCTAssertTrue(observations.allSatisfy { $0["id"]?.stringValue?.count == 64 }, "deterministic ids")
        XCTAssertEqual(output["errors"]?.arrayValue?.count, 0)
    }

    func testReadingsWithinASecondStayApartAndTheLaterOfTwoEqualTimesWins() throws {
        let profile = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals").path
        let messages = """
            {"deviceId":"m1","patientId":"p1","measuredAt":"2026-11-27T08:15:00.100Z","heartRate":70}
            {"deviceId":"m1","patientId":"p1","measuredAt":"2026-11-27T08:15:00.400Z","heartRate":71}
            {"deviceId":"m1","patientId":"p1","measuredAt":"2026-11-27T08:15:00.400Z","heartRate":72}
            """
        func map(_ extra: [String]) throws -> [JSONValue] {
            let run = try CommandRunner.run([
                "map", "--device-template", "\(profile)/devicecontent.json", "--fhir-template", "\(profile)/fhirmapping.json",
                "--identity", "create", "-",
            ] + extra, stdin: Data(messages.utf8))
            XCTAssertEqual(run.status, 0, run.stderr)
            return try JSONValue(parsing: run.stdout)["observations"]?.arrayValue ?? []
        }
        let observations = try map([])
        XCTAssertEqual(observations.compactMap { $0["valueQuantity"]?["value"]?.doubleValue }, [70, 72], "one per reading; the later of two equal times")
        XCTAssertEqual(Set(observations.compactMap { $0["id"]?.stringValue }).count, 2)
        let upstream = try map(["--observation-id-precision", "second"])
        XCTAssertEqual(upstream.count, 1, "upstream's second-precision ids merge the two readings")
        XCTAssertEqual(upstream.first?["effectivePeriod"]?["end"]?.stringValue, "2026-11-27T08:15:00.400Z")

        let config = try temporaryDirectory("precision")
        defer { try? FileManager.default.removeItem(at: config) }
        let copy = config.appendingPathComponent("profiles/demo-vitals")
        try FileManager.default.createDirectory(at: config.appendingPathComponent("profiles"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: profile, toPath: copy.path)
        let settings = copy.appendingPathComponent("profile.yaml")
        try "identity:\n  mode: create\n  observationIdPrecision: second\n".write(to: settings, atomically: true, encoding: .utf8)
        let file = config.appendingPathComponent("config.yaml")
        try "dataDir: data\ndemo: true\nprofiles:\n  directory: profiles\n".write(to: file, atomically: true, encoding: .utf8)
        let check = try CommandRunner.run(["config", "check", file.path])
        XCTAssertEqual(check.status, 0, check.stdoutText)
        XCTAssertTrue(check.stdoutText.contains("warning: \(settings.path): identity.observationIdPrecision: second-precision"), check.stdoutText)
        try "identity:\n  observationIdPrecision: minute\n".write(to: settings, atomically: true, encoding: .utf8)
        let refused = try CommandRunner.run(["config", "check", file.path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stdoutText.contains("unknown precision 'minute'"), refused.stdoutText)
    }

    /// Ids sent as JSON numbers beyond 64 bits, and a value with 25 significant digits, come out
    /// of `fhir-edge map` exactly as they went in.
    func testNumbersBeyondInt64AndDoubleComeOutExactly() throws {
        let profile = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals").path
        let messages = """
            {"deviceId":98765432109876543211,"patientId":12345678901234567891,"measuredAt":"2026-11-27T08:15:00Z","heartRate":70}
            {"deviceId":98765432109876543212,"patientId":12345678901234567892,"measuredAt":"2026-11-27T08:15:00Z","temperature":36.12345678901234567890123}
            """
        let run = try CommandRunner.run([
            "map", "--device-template", "\(profile)/devicecontent.json", "--fhir-template", "\(profile)/fhirmapping.json",
            "--identity", "create", "-",
        ], stdin: Data(messages.utf8))
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdoutText.contains("36.12345678901234567890123"), run.stdoutText)
        let output = try JSONValue(parsing: run.stdout)
        let measurements = (output["results"]?.arrayValue ?? []).flatMap { $0["measurements"]?.arrayValue ?? [] }
        XCTAssertEqual(measurements.compactMap { $0["PatientId"]?.stringValue }, ["12345678901234567891", "12345678901234567892"])
        XCTAssertEqual(measurements.compactMap { $0["DeviceId"]?.stringValue }, ["98765432109876543211", "98765432109876543212"])
        XCTAssertEqual(measurements.last?["Properties"]?[0]?["Value"]?.stringValue, "36.12345678901234567890123")
        let observations = output["observations"]?.arrayValue ?? []
        XCTAssertEqual(observations.count, 2)
        XCTAssertEqual(Set(observations.compactMap { $0["subject"]?["reference"]?.stringValue }).count, 2, "two patients, not one")
        let temperature = observations.first { $0["code"]?["coding"]?[0]?["code"]?.stringValue == "8310-5" }
        guard case .exactNumber(let value)? = temperature?["valueQuantity"]?["value"] else {
            return XCTFail("the value keeps its digits: \(String(describing: temperature))")
        }
        XCTAssertEqual(value.text, "36.12345678901234567890123")
    }

    // MARK: - Comparison helpers

    private func json(_ url: URL) throws -> JSONValue {
        try JSONValue(parsing: try Data(contentsOf: url))
    }

    private func assertMeasurement(_ got: JSONValue, matches want: JSONValue, _ name: String) {
        for key in ["Type", "DeviceId", "PatientId", "EncounterId", "CorrelationId"] {
            XCTAssertEqual(got[key] ?? .null, want[key] ?? .null, "\(name): \(key)")
        }
        XCTAssertEqual(instant(got["OccurrenceTimeUtc"]), instant(want["OccurrenceTimeUtc"]), "\(name): OccurrenceTimeUtc")
        let gp = got["Properties"]?.arrayValue ?? []
        let wp = want["Properties"]?.arrayValue ?? []
        XCTAssertEqual(gp.count, wp.count, "\(name): properties \(gp) vs \(wp)")
        for (g, w) in zip(gp, wp) {
            XCTAssertEqual(g["Name"], w["Name"], name)
            if let numeric = w["ValueNumeric"]?.doubleValue, let value = g["Value"]?.stringValue.flatMap(Double.init) {
                XCTAssertEqual(value, numeric, accuracy: w["tolerance"]?.doubleValue ?? 1e-9, name)
            } else {
                XCTAssertEqual(g["Value"], w["Value"], name)
            }
        }
    }

    private func instant(_ value: JSONValue?) -> Int64? {
        value?.stringValue.flatMap { Timestamp(parsingISO8601Lenient: $0) }?.millisecondsSinceEpoch
    }

    /// Drops `issued` and `meta` (the README says to ignore them) and writes every date-time as an
    /// instant truncated to milliseconds, so .NET's 7-digit fractions compare with ours.
    private func normalizedObservations(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let elements):
            return .array(elements.map(normalizedObservations))
        case .object(let object):
            var out = JSONObject()
            for (key, member) in object.members where key != "issued" && key != "meta" {
                if ["start", "end", "effectiveDateTime"].contains(key), let ms = instant(member) {
                    out[key] = .int(ms)
                } else {
                    out[key] = normalizedObservations(member)
                }
            }
            return .object(out)
        default:
            return value
        }
    }
}

extension JSONValue {
    fileprivate subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
