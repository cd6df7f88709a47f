import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The local API over TLS with a real client (curl): ingest and health over https, a renewed
/// certificate served after SIGHUP without a restart, client certificates required when a
/// client CA is set, and plain HTTP beyond loopback refused unless allowed explicitly.
final class LocalTLSTests: XCTestCase {
    static let openssl = URL(fileURLWithPath: "/usr/bin/openssl")
    static let curl = URL(fileURLWithPath: "/usr/bin/curl")

    private func tools() throws {
        for tool in [Self.openssl, Self.curl] where !FileManager.default.isExecutableFile(atPath: tool.path) {
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw HarnessFailure(description: "\(tool.path) is missing; scripts/setup.sh installs it") }
            throw XCTSkip("\(tool.path) is not installed")
        }
    }

    /// A self-signed certificate for 127.0.0.1 with subject CN `name`, as PEM files.
    private func certificate(_ name: String, in folder: URL) throws -> (certificate: URL, key: URL) {
        let certificate = folder.appendingPathComponent("\(name).crt"), key = folder.appendingPathComponent("\(name).key")
        let run = try CommandRunner.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", key.path, "-out", certificate.path,
        ], executable: Self.openssl)
        XCTAssertEqual(run.status, 0, run.stderr)
        return (certificate, key)
    }

    /// curl against the daemon; `-w` appends the status and the certificate's subject.
    private func curl(_ port: Int, _ path: String, ca: URL, extra: [String] = []) throws -> CommandResult {
        try CommandRunner.run(["-sS", "--max-time", "5", "--cacert", ca.path, "-w", "\n%{http_code} %{certs}"] + extra
            + ["https://127.0.0.1:\(port)\(path)"], executable: Self.curl, timeout: 20)
    }

    func testIngestOverTLSAndARenewedCertificateAfterSIGHUP() throws {
        try tools()
        let directory = try temporaryDirectory("local-tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try certificate("gateway-first", in: directory)
        let live = (certificate: directory.appendingPathComponent("live.crt"), key: directory.appendingPathComponent("live.key"))
        try FileManager.default.copyItem(at: first.certificate, to: live.certificate)
        try FileManager.default.copyItem(at: first.key, to: live.key)
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            http:
              tls: {certificate: live.crt, key: live.key}
            profiles:
              directory: \(Conformance.packageRoot.appendingPathComponent("device-profiles").path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        let ca = first.certificate
        daemon.readiness = { port in
            (try? CommandRunner.run(["-sS", "--max-time", "2", "--cacert", ca.path, "https://127.0.0.1:\(port)/health"],
                                    executable: LocalTLSTests.curl, timeout: 5))?.status == 0
        }
        try daemon.start()
        defer { daemon.stop() }

        let health = try curl(daemon.port, "/health", ca: first.certificate)
        XCTAssertEqual(health.status, 0, health.stderr)
        XCTAssertTrue(health.stdoutText.contains("\"ok\""), health.stdoutText)
        let ingest = try curl(daemon.port, "/ingest/demo-vitals", ca: first.certificate, extra: [
            "-H", "content-type: application/json", "--data", Pipeline.vitals("tls-1"),
        ])
        XCTAssertTrue(ingest.stdoutText.contains("\n202 "), ingest.stdoutText + ingest.stderr)
        XCTAssertNil(LoopbackHTTP.request(port: daemon.port, method: "GET", path: "/health", timeoutSeconds: 2)?.status,
                     "no plain HTTP on a TLS port")

        // Renew: new files in place, SIGHUP, the new certificate without a restart.
        let second = try certificate("gateway-second", in: directory)
        try FileManager.default.removeItem(at: live.certificate)
        try FileManager.default.removeItem(at: live.key)
        try FileManager.default.copyItem(at: second.certificate, to: live.certificate)
        try FileManager.default.copyItem(at: second.key, to: live.key)
        let pid = daemon.pid
        kill(pid, SIGHUP)
        let renewed = try Pipeline.eventually(timeout: 10) {
            try curl(daemon.port, "/health", ca: second.certificate).status == 0
        }
        XCTAssertTrue(renewed, "the renewed certificate is served after SIGHUP: \(daemon.log.suffix(1000))")
        XCTAssertEqual(daemon.pid, pid)
        XCTAssertNotEqual(try curl(daemon.port, "/health", ca: first.certificate).status, 0, "the old certificate is gone")

        // A reload that fails keeps the working certificate.
        try "not a key".write(to: live.key, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        usleep(500_000)
        XCTAssertEqual(try curl(daemon.port, "/health", ca: second.certificate).status, 0)
        XCTAssertTrue(daemon.log.contains("previous one stays in use"), daemon.log.suffix(1000).description)
        XCTAssertEqual(daemon.stop(), 0)
    }

    func testClientCertificatesAreRequiredWhenAClientCAIsSet() throws {
        try tools()
        let directory = try temporaryDirectory("mutual-tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try certificate("gateway", in: directory)
        let device = try certificate("bedside-monitor", in: directory)
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            http:
              tls: {certificate: gateway.crt, key: gateway.key, clientCA: bedside-monitor.crt}
            profiles:
              directory: \(Conformance.packageRoot.appendingPathComponent("device-profiles").path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        let deviceCertificate = device
        let serverCertificate = server.certificate
        daemon.readiness = { port in
            (try? CommandRunner.run(["-sS", "--max-time", "2", "--cacert", serverCertificate.path,
                                     "--cert", deviceCertificate.certificate.path, "--key", deviceCertificate.key.path,
                                     "https://127.0.0.1:\(port)/health"], executable: LocalTLSTests.curl, timeout: 5))?.status == 0
        }
        try daemon.start()
        defer { daemon.stop() }
        let with = try curl(daemon.port, "/health", ca: server.certificate, extra: ["--cert", device.certificate.path, "--key", device.key.path])
        XCTAssertEqual(with.status, 0, with.stderr)
        let without = try curl(daemon.port, "/health", ca: server.certificate)
        XCTAssertNotEqual(without.status, 0, "a client without a certificate is refused: \(without.stdoutText)")
        let stranger = try certificate("stranger", in: directory)
        let foreign = try curl(daemon.port, "/health", ca: server.certificate, extra: ["--cert", stranger.certificate.path, "--key", stranger.key.path])
        XCTAssertNotEqual(foreign.status, 0, "a certificate the client CA did not sign is refused")
    }

    func testPlainHTTPBeyondLoopbackNeedsAllowPlaintext() throws {
        let directory = try temporaryDirectory("plaintext")
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles").path
        let refused = directory.appendingPathComponent("refused.yaml")
        try "dataDir: data\nhttp: {listen: 0.0.0.0:8088}\nprofiles: {directory: \(profiles)}\n".write(to: refused, atomically: true, encoding: .utf8)
        let check = try CommandRunner.run(["config", "check", refused.path])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stdoutText.contains("http.listen") && check.stdoutText.contains("http.allowPlaintext"), check.stdoutText)
        let allowed = directory.appendingPathComponent("allowed.yaml")
        try "dataDir: data\nhttp: {listen: 0.0.0.0:8088, allowPlaintext: true}\nprofiles: {directory: \(profiles)}\n".write(to: allowed, atomically: true, encoding: .utf8)
        let warned = try CommandRunner.run(["config", "check", allowed.path])
        XCTAssertEqual(warned.status, 0, warned.stdoutText)
        XCTAssertTrue(warned.stdoutText.contains("warning:") && warned.stdoutText.contains("in clear"), warned.stdoutText)
    }
}
