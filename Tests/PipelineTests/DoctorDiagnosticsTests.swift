import EdgeCrypto
import EdgeCore
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// `fhir-edge doctor` and `fhir-edge diagnostics` through the built binary.
final class DoctorDiagnosticsTests: XCTestCase {
    static let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles").path

    /// Runs doctor with `--json` and returns the exit status and checks by name.
    func doctor(_ arguments: [String]) throws -> (status: Int32, checks: [String: [JSONValue]], text: String) {
        let run = try Pipeline.fhirEdge(["doctor", "--json"] + arguments, timeout: 120)
        XCTAssertTrue(run.status == 0 || run.status == 1, "doctor exits 0 or 1, never crashes: \(run.status) \(run.stderr)")
        let report = try JSONValue(parsing: Array(run.stdout))
        var checks: [String: [JSONValue]] = [:]
        for check in report["checks"]?.arrayValue ?? [] { checks[check["name"]?.stringValue ?? "", default: []].append(check) }
        let failed = (report["checks"]?.arrayValue ?? []).contains { $0["outcome"] == "failed" }
        XCTAssertEqual(run.status, failed ? 1 : 0, "the exit status says whether a check failed")
        XCTAssertEqual(report["ok"], .bool(!failed))
        return (run.status, checks, run.stdoutText)
    }

    func testABrokenOrMissingConfigurationIsAFindingWithItsFix() throws {
        let directory = try temporaryDirectory("doctor-broken")
        defer { try? FileManager.default.removeItem(at: directory) }
        let broken = directory.appendingPathComponent("broken.yaml")
        try "dataDir: [not, a, path\nhttp: {listen: nowhere}\n".write(to: broken, atomically: true, encoding: .utf8)
        for file in [broken.path, directory.appendingPathComponent("missing.yaml").path, directory.path] {
            let (status, checks, _) = try doctor(["--config", file])
            XCTAssertEqual(status, 1, file)
            XCTAssertEqual(checks["config"]?.first?["outcome"], "failed", "\(file): \(checks)")
            XCTAssertTrue(checks["config"]?.first?["fix"]?.stringValue?.contains("config check") ?? false)
        }
        // Text output too: each problem is followed by its fix.
        let text = try Pipeline.fhirEdge(["doctor", "--config", broken.path])
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdoutText.contains("FAILED  config:"), text.stdoutText)
        XCTAssertTrue(text.stdoutText.contains("        fix: "), text.stdoutText)
    }

    func testLooseModesMissingAdaptersAndPortsAreFoundWithTheirFixes() throws {
        let directory = try temporaryDirectory("doctor-modes")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        chmod(data.path, 0o755)
        _ = FileManager.default.createFile(atPath: data.appendingPathComponent("fhir-edge.sqlite").path, contents: Data(), attributes: [.posixPermissions: 0o644])
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            profiles: {directory: \(Self.profiles)}
            bluetooth:
              transport: hci:97
              devices:
                "F0:00:00:00:18:10": {profile: ble-blood-pressure}
            """.write(to: config, atomically: true, encoding: .utf8)
        let (status, checks, _) = try doctor(["--config", config.path])
        XCTAssertEqual(status, 1)
        XCTAssertEqual(checks["config"]?.first?["outcome"], "ok", "\(checks)")
        let dataDir = try XCTUnwrap(checks["data-dir"]?.first)
        XCTAssertEqual(dataDir["outcome"], "failed")
        XCTAssertTrue(dataDir["message"]?.stringValue?.contains("mode 755") ?? false, "\(dataDir)")
        XCTAssertTrue(dataDir["message"]?.stringValue?.contains("fhir-edge.sqlite (644)") ?? false, "\(dataDir)")
        XCTAssertTrue(dataDir["fix"]?.stringValue?.contains("chmod 700") ?? false)
        XCTAssertEqual(checks["bluetooth.adapter"]?.first?["outcome"], "failed")
        XCTAssertTrue(checks["bluetooth.adapter"]?.first?["message"]?.stringValue?.contains("hci97") ?? false)
        XCTAssertEqual(checks["upstream"]?.first?["outcome"], "skipped")
        XCTAssertNotNil(checks["clock"]?.first, "the clock is always checked")
        XCTAssertNotNil(checks["disk"]?.first)
        XCTAssertNotNil(checks["service"]?.first)

        // Tightened, the data directory passes.
        chmod(data.path, 0o700)
        chmod(data.appendingPathComponent("fhir-edge.sqlite").path, 0o600)
        let again = try doctor(["--config", config.path])
        XCTAssertEqual(again.checks["data-dir"]?.first?["outcome"], "ok", "\(again.checks)")
        // A data directory that does not exist is not a crash either.
        let none = try doctor(["--data-dir", directory.appendingPathComponent("nowhere").path])
        XCTAssertEqual(none.checks["data-dir"]?.first?["outcome"], "warning")
    }

    func testAnUnreachableUpstreamIsAFailedCheck() throws {
        let directory = try temporaryDirectory("doctor-upstream")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.yaml")
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        try "dataDir: data\nprofiles: {directory: \(Self.profiles)}\nupstream: {url: \"http://127.0.0.1:9/fhir\"}\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let (status, checks, _) = try doctor(["--config", config.path])
        XCTAssertEqual(status, 1)
        XCTAssertEqual(checks["upstream.dns"]?.first?["outcome"], "ok")
        XCTAssertEqual(checks["upstream.connect"]?.first?["outcome"], "failed", "\(checks)")
    }

    // MARK: Diagnostics

    static let secretToken = "SENTINEL-TOKEN-4e1f"
    static let patient = "SENTINEL-PATIENT-d09a"
    static let bindKey = "5e17e1005e17e1005e17e1005e17e100"
    static let urlPassword = "SENTINELPASS93"

    func testTheArchiveHoldsEverythingSupportNeedsAndNoSecretOrPatientData() throws {
        let directory = try temporaryDirectory("diagnostics")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenHash = SHA256.hexDigest(Self.secretToken)
        let config = directory.appendingPathComponent("config.yaml")
        try """
            # demo box
            dataDir: data
            demo: true
            http: {listen: "127.0.0.1:0"}
            profiles: {directory: \(Self.profiles)}
            clients:
              ward: {tokenSHA256: \(tokenHash), roles: [viewer]}
            bluetooth:
              transport: tcp:127.0.0.1:9
              devices:
                "F0:00:00:00:18:10": {profile: ble-blood-pressure, patientId: \(Self.patient)}
              bthome:
                "F0:00:00:00:FC:D2": {profile: ble-bthome, bindKey: \(Self.bindKey)}
            # proxy http://support:\(Self.urlPassword)@proxy.example:3128
            """.write(to: config, atomically: true, encoding: .utf8)
        // The daemon runs on the same store without the Bluetooth section (no controller here).
        let running = directory.appendingPathComponent("running.yaml")
        try "dataDir: data\ndemo: true\nprofiles: {directory: \(Self.profiles)}\n".write(to: running, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: running, dataDirectory: data)
        try daemon.start()
        for second in 0..<5 {
            let body = Pipeline.vitals("m\(second)", device: "monitor-1", second: second)
                .replacingOccurrences(of: "patient-monitor-1", with: Self.patient)
            let reply = LoopbackHTTP.request(port: daemon.port, method: "POST", path: "/ingest/demo-vitals", headers: Pipeline.json, body: Data(body.utf8))
            XCTAssertEqual(reply?.status, 202)
        }
        daemon.stop()
        let logFile = data.appendingPathComponent("daemon.log")
        // A log line as a misconfigured client could provoke it: a token and a URL password.
        let handle = try FileHandle(forWritingTo: logFile)
        handle.seekToEndOfFile()
        handle.write(Data("warning: refused Authorization: Bearer \(Self.secretToken) from https://nurse:\(Self.urlPassword)@10.0.0.2/\n".utf8))
        try handle.close()

        let archive = directory.appendingPathComponent("support.tar.gz")
        let run = try Pipeline.fhirEdge(["diagnostics", "--config", config.path, "--data-dir", data.path, "--log-file", logFile.path,
                                         "--out", archive.path], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        let unpacked = directory.appendingPathComponent("unpacked")
        try FileManager.default.createDirectory(at: unpacked, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-xzf", archive.path, "-C", unpacked.path]
        try tar.run()
        tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)
        let folder = unpacked.appendingPathComponent("fhir-edge-diagnostics")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        for expected in ["config.yaml", "doctor.json", "doctor.txt", "log.txt", "store.json", "versions.txt"] {
            XCTAssertTrue(names.contains(expected), "\(expected) in \(names)")
        }
        var all = ""
        for name in names { all += (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "" }
        for sentinel in [Self.secretToken, tokenHash, Self.patient, Self.bindKey, Self.urlPassword] {
            XCTAssertFalse(all.contains(sentinel), "\(sentinel) is in the archive")
        }
        let masked = try String(contentsOf: folder.appendingPathComponent("config.yaml"), encoding: .utf8)
        XCTAssertTrue(masked.contains("tokenSHA256: ***"), masked)
        XCTAssertTrue(masked.contains("patientId: ***"), masked)
        XCTAssertTrue(masked.contains("# (comment removed)"), masked)
        XCTAssertTrue(masked.contains("profile: ble-blood-pressure"), "what is not secret stays readable: \(masked)")
        let store = try JSONValue(parsing: Array(try Data(contentsOf: folder.appendingPathComponent("store.json"))))
        XCTAssertEqual(store["received"], 5, "the store's counts: \(store)")
        let log = try String(contentsOf: folder.appendingPathComponent("log.txt"), encoding: .utf8)
        XCTAssertTrue(log.contains("Bearer ***") && log.contains("nurse:***@"), log)
        XCTAssertTrue(try String(contentsOf: folder.appendingPathComponent("versions.txt"), encoding: .utf8).hasPrefix("fhir-edge "))
    }
}
