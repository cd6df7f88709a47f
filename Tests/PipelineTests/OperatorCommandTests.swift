import Foundation
import JSONQuery
import TestSupport
import XCTest

/// The operator commands against a running daemon: queue stats and export while it runs,
/// dead letters listed without payloads and replayed after a template fix, the AuditEvent export.
final class OperatorCommandTests: XCTestCase {
    func testDeadLettersReplayAfterTemplateFixAndEverythingIsExported() throws {
        let directory = try temporaryDirectory("operator")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A private copy of the demo profile whose heart-rate template reads a field that is not there.
        let profiles = directory.appendingPathComponent("profiles")
        let profile = profiles.appendingPathComponent("demo-vitals")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals"), to: profile)
        let templates = profile.appendingPathComponent("devicecontent.json")
        let fixed = try String(contentsOf: templates, encoding: .utf8)
        let broken = fixed.replacingOccurrences(of: #""valueExpression": "$.heartRate""#, with: #""valueExpression": "$.heartRateBpm""#)
        XCTAssertNotEqual(broken, fixed, "the demo template changed; adjust the break")
        try broken.write(to: templates, atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            profiles:
              directory: profiles
            """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        // Three readings with a heart rate (dead-lettered by the broken template), two without.
        var lines: [String] = []
        for index in 0..<3 { lines.append(Pipeline.vitals("hr\(index)", second: index)) }
        for index in 0..<2 {
            lines.append(#"{"deviceId":"monitor-9","patientId":"patient-9","measuredAt":"2026-11-27T09:00:0\#(index)Z","spo2":95}"#)
        }
        let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(reply?.status, 202, reply?.text ?? daemon.log)

        // queue stats while the daemon runs.
        let settled = try Pipeline.eventually {
            let stats = try Pipeline.queueStats(data)
            return Pipeline.integer(stats, "inbox") == 0 && Pipeline.integer(stats, "deadLetters") == 3
        }
        XCTAssertTrue(settled, "three dead letters expected: \(daemon.log.suffix(2000))")
        let stats = try Pipeline.queueStats(data)
        for key in ["received", "inbox", "outboxPending", "outboxSent", "deadLetters", "bytes", "confirmed", "oldestUnsentAgeSeconds"] {
            XCTAssertNotNil(stats[key], "queue stats --json lacks \(key)")
        }
        XCTAssertEqual(Pipeline.integer(stats, "received"), 5)
        let text = try Pipeline.fhirEdge(["queue", "stats", "--data-dir", data.path])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdoutText.contains("dead letters     3"), text.stdoutText)

        // list and show never print payloads unless asked.
        let list = try Pipeline.fhirEdge(["deadletter", "list", "--data-dir", data.path, "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let listed = list.stdoutText.split(separator: "\n")
        XCTAssertEqual(listed.count, 3)
        XCTAssertFalse(list.stdoutText.contains("patient-monitor-1"), "list must not print payloads")
        XCTAssertFalse(list.stdoutText.contains("\"payload\""))
        guard case .object(let first)? = try? JSONValue(parsing: String(listed[0])), let id = Pipeline.integer(first, "id") else {
            return XCTFail("unreadable list line \(listed[0])")
        }
        XCTAssertEqual(first["stage"], .string("device-mapping"))
        XCTAssertEqual(first["profile"], .string("demo-vitals"))
        let show = try Pipeline.fhirEdge(["deadletter", "show", String(id), "--data-dir", data.path])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertFalse(show.stdoutText.contains("\"payload\""), show.stdoutText)
        XCTAssertTrue(show.stdoutText.contains("heartRateBpm"), "the error names the expression: \(show.stdoutText)")
        let withPayload = try Pipeline.fhirEdge(["deadletter", "show", String(id), "--payload", "--data-dir", data.path])
        XCTAssertTrue(withPayload.stdoutText.contains("\"payload\""))
        XCTAssertTrue(withPayload.stdoutText.contains("patient-monitor-1"), withPayload.stdoutText)
        let missing = try Pipeline.fhirEdge(["deadletter", "show", "999999", "--data-dir", data.path])
        XCTAssertEqual(missing.status, 2)

        // Export while running: only the SpO2 readings made Observations so far.
        let before = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"])
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertFalse(before.stdoutText.contains("\"8867-4\""), "no heart-rate Observation before the fix")
        XCTAssertTrue(before.stdoutText.contains("\"59408-5\""), "the SpO2 Observations are buffered")

        // Fix the template, restart so the daemon loads it, replay everything.
        XCTAssertEqual(daemon.stop(), 0)
        try fixed.write(to: templates, atomically: true, encoding: .utf8)
        try daemon.start()
        let replay = try Pipeline.fhirEdge(["deadletter", "replay", "--all", "--data-dir", data.path, "--json"])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stdoutText.contains("\"replayed\":3"), replay.stdoutText)
        let replayed = try Pipeline.eventually {
            let stats = try Pipeline.queueStats(data)
            return Pipeline.integer(stats, "inbox") == 0 && Pipeline.integer(stats, "deadLetters") == 0
        }
        XCTAssertTrue(replayed, "the replayed messages must map: \(daemon.log.suffix(2000))")

        let after = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson", "--state", "all"])
        XCTAssertEqual(after.status, 0)
        var observations = 0
        for line in after.stdoutText.split(separator: "\n") {
            guard case .object(let resource)? = try? JSONValue(parsing: String(line)) else { return XCTFail("not a resource: \(line)") }
            if resource["resourceType"] == .string("Observation") { observations += 1 }
        }
        XCTAssertTrue(after.stdoutText.contains("\"8867-4\""), "heart-rate Observations after the replay")
        XCTAssertGreaterThanOrEqual(observations, 8, "3 heart rates + 3 SpO2 + 2 SpO2")
        let sent = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--state", "sent"])
        XCTAssertEqual(sent.stdoutText, "", "nothing was uploaded")

        // The journal: replays by the cli, accesses by the cli, all verifiable and exportable.
        XCTAssertEqual(daemon.stop(), 0)
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", data.path])
        XCTAssertEqual(verify.status, 0, verify.stdoutText)
        XCTAssertTrue(verify.stdoutText.hasPrefix("journal intact: "), verify.stdoutText)
        let export = try Pipeline.fhirEdge(["audit", "export", "--data-dir", data.path, "--gateway-id", "test-gateway"])
        XCTAssertEqual(export.status, 0, export.stderr)
        var kinds: [String: Int] = [:]
        var cliEvents = 0
        for line in export.stdoutText.split(separator: "\n") {
            guard case .object(let event)? = try? JSONValue(parsing: String(line)) else { return XCTFail("not JSON: \(line)") }
            XCTAssertEqual(event["resourceType"], .string("AuditEvent"))
            if line.contains(#""value":"cli""#) { cliEvents += 1 }
            for kind in ["deadletter.replayed", "deadletter.created", "access.queue.stats", "access.export.outbox",
                         "access.deadletter.list", "access.deadletter.payload", "audit.verify"]
            where line.contains(#""valueString":"\#(kind)""#) {
                kinds[kind, default: 0] += 1
            }
        }
        XCTAssertEqual(kinds["deadletter.created"], 3)
        XCTAssertEqual(kinds["deadletter.replayed"], 3)
        for kind in ["access.queue.stats", "access.export.outbox", "access.deadletter.list", "access.deadletter.payload", "audit.verify"] {
            XCTAssertNotNil(kinds[kind], "no \(kind) AuditEvent: \(kinds)")
        }
        XCTAssertGreaterThan(cliEvents, 5)
        XCTAssertFalse(export.stdoutText.contains("patient-monitor-1"), "AuditEvents carry identifiers, never payloads")
        let later = try Pipeline.fhirEdge(["audit", "export", "--data-dir", data.path, "--since", "2999-01-01T00:00:00Z"])
        XCTAssertEqual(later.status, 0)
        XCTAssertEqual(later.stdoutText, "")
        let noStore = try Pipeline.fhirEdge(["queue", "stats", "--data-dir", directory.appendingPathComponent("nothing").path])
        XCTAssertEqual(noStore.status, 2)
    }
}
