import Foundation
import TestSupport
import XCTest

/// Patient data at rest through the real daemon: nothing readable in any file of the data
/// directory, owner-only modes, the key required by every command, rotation without loss.
final class EncryptionAtRestTests: XCTestCase {
    static let patient = "SENTINEL-PATIENT-4d1e"
    static let marker = "SENTINEL-MESSAGE-b07a"

    /// A demo-vitals reading of the sentinel patient.
    static func reading(_ index: Int) -> String {
        #"{"deviceId":"monitor-1","patientId":"\#(patient)","measuredAt":"2026-11-27T08:00:0\#(index)Z","heartRate":70,"spo2":97,"messageId":"\#(marker)-\#(index)"}"#
    }

    /// Runs the demo daemon under umask 022, ingests sentinel readings (one of them malformed),
    /// waits for mapping and stops it gracefully.
    private func ingest(into data: URL) throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let daemon = DaemonProcess.demo(dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }
        // The last one has an unparseable time: it becomes dead letter 1.
        let lines = (0..<4).map { Self.reading($0) } + [Self.reading(4).replacingOccurrences(of: "2026-11-27T", with: "not-a-time-")]
        let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(reply?.status, 202, daemon.log)
        XCTAssertTrue(try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 }, daemon.log)
        XCTAssertEqual(daemon.stop(), 0, daemon.log)
    }

    private func filesContaining(_ needle: String, in directory: URL) throws -> [String] {
        let names = try FileManager.default.subpathsOfDirectory(atPath: directory.path)
        return try names.filter { name in
            var isDirectory: ObjCBool = false
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { return false }
            return try Data(contentsOf: URL(fileURLWithPath: path)).range(of: Data(needle.utf8)) != nil
        }
    }

    private func mode(_ url: URL) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func testNoSentinelReachesAnyFileOfTheDataDirectoryAndModesAreOwnerOnly() throws {
        let directory = try temporaryDirectory("at-rest")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        try ingest(into: data)

        // The data is there, readable with the key through the commands.
        let export = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stdoutText.contains(Self.patient), "the export should show the patient reference")
        let letters = try Pipeline.fhirEdge(["deadletter", "list", "--data-dir", data.path, "--json"])
        XCTAssertEqual(letters.status, 0, letters.stderr)
        let show = try Pipeline.fhirEdge(["deadletter", "show", "1", "--payload", "--data-dir", data.path])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdoutText.contains(Self.marker), "the dead letter's payload opens with the key")
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", data.path])
        XCTAssertEqual(verify.status, 0, verify.stdoutText + verify.stderr)

        // ...and nowhere on disk in clear: db, -wal, -shm, the log, anything.
        XCTAssertEqual(try filesContaining(Self.patient, in: data), [])
        XCTAssertEqual(try filesContaining(Self.marker, in: data), [])

        XCTAssertEqual(try mode(data), 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: data.path) where name != "daemon.log" {
            XCTAssertEqual(try mode(data.appendingPathComponent(name)), 0o600, name)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: data.appendingPathComponent("fhir-edge.key").path))
    }

    func testAWrongMissingOrExposedKeyFailsStartAndCommandsNamingTheKey() throws {
        let directory = try temporaryDirectory("wrong-key")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        try ingest(into: data)
        let key = data.appendingPathComponent("fhir-edge.key")
        let original = try Data(contentsOf: key)
        let demo = ["demo", "--data-dir", data.path, "--listen", "127.0.0.1:0"]

        try Data((String(repeating: "5e", count: 32) + "\n").utf8).write(to: key)
        let wrong = try Pipeline.fhirEdge(demo, timeout: 30)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("wrong-key") && wrong.stderr.contains(key.path), wrong.stderr)
        XCTAssertFalse(wrong.stderr.contains("corrupt"), wrong.stderr)
        let stats = try Pipeline.fhirEdge(["queue", "stats", "--data-dir", data.path])
        XCTAssertEqual(stats.status, 2)
        XCTAssertTrue(stats.stderr.contains("does not open this store"), stats.stderr)

        try FileManager.default.removeItem(at: key)
        let missing = try Pipeline.fhirEdge(demo, timeout: 30)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("key file is missing") && missing.stderr.contains(key.path), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: key.path), "a missing key is never replaced by a new one")
        let export = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"])
        XCTAssertEqual(export.status, 2)
        XCTAssertTrue(export.stderr.contains("encrypted and no key was given"), export.stderr)

        try original.write(to: key)
        chmod(key.path, 0o644)
        let exposed = try Pipeline.fhirEdge(["queue", "stats", "--data-dir", data.path])
        XCTAssertEqual(exposed.status, 2)
        XCTAssertTrue(exposed.stderr.contains("accessible to group or others"), exposed.stderr)
        chmod(key.path, 0o600)
        XCTAssertEqual(try Pipeline.fhirEdge(["queue", "stats", "--data-dir", data.path]).status, 0)
    }

    func testRekeyKeepsEveryRowReadableUnderTheNewKeyOnly() throws {
        let directory = try temporaryDirectory("rekey")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        try ingest(into: data)
        let before = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"])
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertFalse(before.stdoutText.isEmpty)

        var current: [String] = []
        for (index, extra) in [[], ["--data-key"]].enumerated() {
            let next = directory.appendingPathComponent("key-\(index)")
            _ = FileManager.default.createFile(atPath: next.path, contents: Data((String(repeating: "0\(index + 1)", count: 32) + "\n").utf8),
                                           attributes: [.posixPermissions: 0o600])
            let rekey = try Pipeline.fhirEdge(["store", "rekey", "--data-dir", data.path] + current + ["--new-key-file", next.path] + extra)
            XCTAssertEqual(rekey.status, 0, rekey.stdoutText + rekey.stderr)
            XCTAssertTrue(rekey.stdoutText.contains("rotated"), rekey.stdoutText)
            let old = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"] + current)
            XCTAssertEqual(old.status, 2, "the previous key no longer opens the store")
            current = ["--key-file", next.path]
            let after = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson"] + current)
            XCTAssertEqual(after.status, 0, after.stderr)
            XCTAssertEqual(after.stdoutText, before.stdoutText, "every row reads the same after rotation \(extra)")
            let show = try Pipeline.fhirEdge(["deadletter", "show", "1", "--payload", "--data-dir", data.path] + current)
            XCTAssertTrue(show.stdoutText.contains(Self.marker), show.stderr)
        }
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", data.path] + current)
        XCTAssertEqual(verify.status, 0, verify.stdoutText + verify.stderr)
        XCTAssertEqual(try filesContaining(Self.patient, in: data), [])
    }
}
