import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Every bundled profile's test messages through the real daemon, and every Observation, Device
/// and Patient `fhir-edge export` then shows checked by an independent validator
/// (`Tests/peers/fhir_validate.py`: fhir.resources R4B models plus Vital Signs, PHD and
/// reference rules).
final class BundledProfileValidationTests: XCTestCase {
    /// The device messages of a profile's golden cases: `*-input.json` arrays and Modbus ticks' `message`.
    static func messages(of profile: URL) throws -> [JSONValue] {
        let cases = profile.appendingPathComponent("testcases")
        var messages: [JSONValue] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: cases.path).sorted() where file.hasSuffix(".json") {
            let document = try JSONValue(parsing: try Data(contentsOf: cases.appendingPathComponent(file)))
            if file.hasSuffix("-input.json"), let list = document.arrayValue {
                messages += list
            } else if let message = document["message"] {
                messages.append(message)
            }
        }
        return messages
    }

    func testEveryResourceOfTheBundledProfilesPassesAnIndependentValidator() throws {
        guard let venv = TestVenv.directory() else { return }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let names = try FileManager.default.contentsOfDirectory(atPath: profiles.path).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 11)
        let directory = try temporaryDirectory("validate")
        defer { try? FileManager.default.removeItem(at: directory) }
        let token = "validation-token"
        let hash = try CommandRunner.run(["config", "hash-token", token]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            profiles:
              directory: \(profiles.path)
              access:
            \(names.map { "    \($0): [validator]" }.joined(separator: "\n"))
            clients:
              validator:
                tokenSHA256: \(hash)
            """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        var posted = 0
        for name in names {
            let messages = try Self.messages(of: profiles.appendingPathComponent(name))
            XCTAssertFalse(messages.isEmpty, "\(name) has test messages")
            let body = messages.map { JSONWriter().string($0) }.joined(separator: "\n")
            let reply = daemon.request("POST", "/ingest/\(name)", headers: [
                "content-type": "application/x-ndjson", "authorization": "Bearer \(token)",
            ], body: Data(body.utf8))
            XCTAssertEqual(reply?.status, 202, "\(name): \(reply?.text ?? daemon.log)")
            posted += messages.count
        }
        XCTAssertTrue(try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 })
        XCTAssertEqual(daemon.stop(), 0)

        let export = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson", "--state", "all"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let file = directory.appendingPathComponent("export.ndjson")
        try export.stdout.write(to: file)
        let validator = Conformance.packageRoot.appendingPathComponent("Tests/peers/fhir_validate.py")
        let run = try CommandRunner.run([validator.path, file.path], executable: venv.appendingPathComponent("bin/python"), timeout: 120)
        let summary = try JSONValue(parsing: run.stdout)
        let problems = summary["problems"]?.arrayValue?.compactMap(\.stringValue) ?? ["no summary: \(run.stderr)"]
        XCTAssertEqual(run.status, 0, "validator problems:\n" + problems.prefix(30).joined(separator: "\n"))
        let observations = Int(summary["byType"]?["Observation"]?.doubleValue ?? 0)
        XCTAssertGreaterThan(observations, posted / 2, "the bundled cases yield Observations: \(summary)")
        XCTAssertGreaterThan(Int(summary["byType"]?["Device"]?.doubleValue ?? 0), 0)
        print("validator: \(names.count) profiles, \(posted) messages, \(summary["checked"]?.doubleValue ?? 0) resources checked, \(problems.count) problems")
    }
}
