import EdgeCrypto
import EdgeCore
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// The status page in a real browser: headless Chromium driven by Selenium from
/// Tests/peers/status_page_browser.py, against the built daemon on loopback.
final class StatusPageBrowserTests: XCTestCase {
    static let operatorToken = "browser-operator-token"
    static let ingestToken = "browser-ingest-token"

    func testSignInSeeADeviceReplayADeadLetterAndSignOut() throws {
        guard let venv = TestVenv.directory() else { throw XCTSkip("no Python test venv (scripts/setup.sh)") }
        let python = venv.appendingPathComponent("bin/python")
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: scripts/setup.sh installs chromium and chromium-driver")
        }
        let directory = try temporaryDirectory("status-page-browser")
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            http:
              listen: 127.0.0.1:0
            profiles:
              directory: \(profiles.path)
              access:
                demo-vitals: [ward]
            clients:
              ward: {tokenSHA256: \(SHA256.hexDigest(Self.ingestToken))}
              technician: {tokenSHA256: \(SHA256.hexDigest(Self.operatorToken)), roles: [operator]}
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        try daemon.start()
        defer { daemon.stop() }

        let screenshot = Conformance.packageRoot.appendingPathComponent(".build/status-page.png")
        try? FileManager.default.removeItem(at: screenshot)
        let log = directory.appendingPathComponent("browser.log")
        let peer = try ChildProcess(
            name: "status_page_browser", executable: python,
            arguments: [
                Conformance.packageRoot.appendingPathComponent("Tests/peers/status_page_browser.py").path,
                "--base", "http://127.0.0.1:\(daemon.port)", "--token", Self.operatorToken, "--ingest-token", Self.ingestToken,
                "--device", "browser-monitor-1", "--patient", "SENTINEL-PATIENT-b71d", "--screenshot", screenshot.path,
            ],
            directory: directory, log: log)
        let status = peer.finish(timeout: 180)
        let output = peer.logText
        XCTAssertEqual(status, 0, "the browser peer failed: \(output)\n\(daemon.log.suffix(2000))")
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let report = try? JSONValue(parsing: Array(line.utf8)) else {
            return XCTFail("no report from the browser peer: \(output)")
        }
        XCTAssertTrue(report["signedIn"]?.stringValue?.contains("Signed in as technician (operator)") ?? false, "\(report)")
        XCTAssertEqual(report["ingest"], 202)
        XCTAssertEqual(report["replayButton"]?.stringValue?.hasPrefix("Replay dead letter"), true)
        XCTAssertEqual(report["signedOut"], true)
        XCTAssertEqual(report["cookie"]?[0]?["httpOnly"], true, "the browser holds an HttpOnly cookie")
        XCTAssertEqual(report["cookie"]?[0]?["sameSite"], "Strict")
        XCTAssertTrue(FileManager.default.fileExists(atPath: screenshot.path), "a screenshot is kept for review")
        XCTAssertFalse(daemon.log.contains("SENTINEL-PATIENT-b71d"), "no patient id in the daemon's log")
    }
}

private extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
