import Foundation
import JSONQuery
import TestSupport
import Upstream
import XCTest

/// `fhir-edge upstream check` through the binary against sekmet-fhir: capabilities, auth modes,
/// advice and exit status.
final class UpstreamCheckEndToEndTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = try temporaryDirectory("upstream-check")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    func testAnOpenServerIsUsableAndItsCapabilitiesAreReported() throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        try server.start()
        defer { server.stop() }
        let run = try CommandRunner.run(["upstream", "check", "--url", server.baseURL, "--bundle-type", "transaction", "--json"])
        XCTAssertEqual(run.status, 0, run.stdoutText + run.stderr)
        let report = try JSONValue(parsing: run.stdout)
        XCTAssertEqual(report["usable"], .bool(true))
        XCTAssertEqual(report["capabilities"]?["transaction"], .bool(true))
        XCTAssertEqual(report["capabilities"]?["batch"], .bool(true))
        XCTAssertEqual(report["capabilities"]?["fhirVersion"], .string("4.0.1"))
        XCTAssertEqual(report["capabilities"]?["resources"]?["Observation"]?["updateCreate"], .bool(true))
        XCTAssertEqual(report["capabilities"]?["resources"]?["Device"]?["conditionalCreate"], .bool(true))

        let text = try CommandRunner.run(["upstream", "check", "--url", server.baseURL])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdoutText.contains("usable: yes"), text.stdoutText)
    }

    func testClientCredentialsAgainstASMARTServerAndAdviceWithoutCredentials() throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(
            venv: venv, home: work.appendingPathComponent("sekmet"),
            extraSettings: #"server_auth: {types: [smart], smart_clients: [{client_id: gw, client_secret: check-s3cret, scopes: "system/Observation.* system/Patient.* system/Device.*"}]}"#)
        try server.start()
        defer { server.stop() }
        let tokenURL = server.rootURL + "/auth/token"

        let anonymous = try CommandRunner.run(["upstream", "check", "--url", server.baseURL])
        XCTAssertEqual(anonymous.status, 1, anonymous.stdoutText)
        XCTAssertTrue(anonymous.stdoutText.contains("requires authentication"), anonymous.stdoutText)
        XCTAssertTrue(anonymous.stdoutText.contains(tokenURL), "the advice names the advertised token endpoint: \(anonymous.stdoutText)")

        var environment = ProcessInfo.processInfo.environment
        environment["CHECK_SECRET"] = "check-s3cret"
        let arguments = [
            "upstream", "check", "--url", server.baseURL, "--auth", "client-credentials", "--token-url", tokenURL, "--client-id", "gw",
            "--client-secret-env", "CHECK_SECRET", "--client-authentication", "client_secret_post", "--scope", "system/Observation.*",
        ]
        let good = try CommandRunner.run(arguments, environment: environment)
        XCTAssertEqual(good.status, 0, good.stdoutText + good.stderr)
        XCTAssertTrue(good.stdoutText.contains("access token obtained"), good.stdoutText)

        environment["CHECK_SECRET"] = "wrong-s3cret"
        let wrong = try CommandRunner.run(arguments, environment: environment)
        XCTAssertEqual(wrong.status, 1, wrong.stdoutText)
        XCTAssertTrue(wrong.stdoutText.contains("invalid_client"), wrong.stdoutText)
        XCTAssertFalse((wrong.stdoutText + wrong.stderr).contains("wrong-s3cret"), "secrets are never printed")

        environment["CHECK_SECRET"] = nil
        let missing = try CommandRunner.run(arguments, environment: environment)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stdoutText.contains("--client-secret-file/--client-secret-env: the environment variable CHECK_SECRET is not set"), missing.stdoutText)
    }

    func testAPrivateCAIsTrustedOnlyWhenItsBundleIsGiven() async throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"), https: true)
        try server.start()
        defer { server.stop() }
        let certificate = try XCTUnwrap(server.certificate).path

        let untrusted = try CommandRunner.run(["upstream", "check", "--url", server.baseURL])
        XCTAssertEqual(untrusted.status, 1, untrusted.stdoutText)
        XCTAssertTrue(untrusted.stdoutText.contains("(tls)"), untrusted.stdoutText)
        XCTAssertTrue(untrusted.stdoutText.contains("--ca-bundle"), "the advice names the flag: \(untrusted.stdoutText)")

        let trusted = try CommandRunner.run(["upstream", "check", "--url", server.baseURL, "--ca-bundle", certificate])
        XCTAssertEqual(trusted.status, 0, trusted.stdoutText + trusted.stderr)

        // The configuration's tls.caBundle reaches the transport.
        let (configuration, problems) = UpstreamAuthConfiguration.decode(auth: nil, tls: ["caBundle": .string(certificate)])
        XCTAssertEqual(problems, [])
        let transport = CurlTransport(options: try XCTUnwrap(configuration).transportOptions())
        let client = FHIRClient(baseURL: server.baseURL, transport: transport)
        let reply = try await client.send(client.request("GET", "metadata"))
        XCTAssertEqual(reply.status, 200)
    }

    func testMutualTLSPresentsTheClientCertificate() async throws {
        guard let venv = TestVenv.directory() else { return }
        // sekmet's self-signed certificate serves the proxy; the proxy demands a client certificate.
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"), https: true)
        let serverCertificate = try XCTUnwrap(server.certificate)
        let serverKey = serverCertificate.deletingPathExtension().appendingPathExtension("key")
        let plain = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet-plain"))
        try plain.start()
        defer { plain.stop() }
        let openssl = try ChildProcess(
            name: "openssl", executable: URL(fileURLWithPath: "/usr/bin/openssl"),
            arguments: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "client.key",
                        "-out", "client.crt", "-subj", "/CN=edge-gw", "-days", "1"],
            directory: work, log: work.appendingPathComponent("openssl.log"))
        XCTAssertEqual(openssl.finish(), 0, openssl.logText)
        let clientCertificate = work.appendingPathComponent("client.crt").path
        let clientKey = work.appendingPathComponent("client.key").path
        let proxy = try PeerProcess(
            script: "fault_proxy.py",
            arguments: ["--upstream", plain.rootURL, "--tls-cert", serverCertificate.path, "--tls-key", serverKey.path, "--client-ca", clientCertificate],
            venv: venv, directory: work)
        defer { proxy.stop() }
        let url = "https://127.0.0.1:\(proxy.port)/fhir"

        let anonymous = try CommandRunner.run(["upstream", "check", "--url", url, "--ca-bundle", serverCertificate.path, "--timeout", "5"])
        XCTAssertEqual(anonymous.status, 1, "without a client certificate the handshake fails: \(anonymous.stdoutText)")
        XCTAssertTrue(anonymous.stdoutText.contains("FAILED  connect"), anonymous.stdoutText)

        let mutual = try CommandRunner.run([
            "upstream", "check", "--url", url, "--ca-bundle", serverCertificate.path, "--client-cert", clientCertificate, "--client-key", clientKey,
        ])
        XCTAssertEqual(mutual.status, 0, mutual.stdoutText + mutual.stderr)

        let (configuration, problems) = UpstreamAuthConfiguration.decode(
            auth: nil,
            tls: ["caBundle": .string(serverCertificate.path), "clientCertificate": .string(clientCertificate), "clientKey": ["secretFile": .string(clientKey)]])
        XCTAssertEqual(problems, [])
        let transport = CurlTransport(options: try XCTUnwrap(configuration).transportOptions())
        let client = FHIRClient(baseURL: url, transport: transport)
        let reply = try await client.send(client.request("GET", "Patient"))
        XCTAssertEqual(reply.status, 200)
    }

    func testAdviceWhenTheServerDeclaresLessThanTheConfiguredModesNeed() throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        try server.start()
        defer { server.stop() }
        let proxy = try PeerProcess(script: "fault_proxy.py", arguments: ["--upstream", server.rootURL], venv: venv, directory: work)
        defer { proxy.stop() }
        // The server's own CapabilityStatement, minus batch and update-create.
        guard let reply = server.get("metadata"), var statement = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
            var rest = (statement["rest"] as? [[String: Any]])?.first
        else { return XCTFail("no CapabilityStatement") }
        rest["interaction"] = [["code": "transaction"]]
        rest["resource"] = (rest["resource"] as? [[String: Any]] ?? []).map { resource -> [String: Any] in
            var resource = resource
            resource["updateCreate"] = false
            return resource
        }
        statement["rest"] = [rest]
        _ = try proxy.json("POST", "/_proxy/faults", body: [["kind": "status", "status": 200, "body": statement, "pathContains": "/metadata", "count": 100]])
        let url = "http://127.0.0.1:\(proxy.port)/fhir"

        let unfit = try CommandRunner.run(["upstream", "check", "--url", url, "--bundle-type", "batch", "--idempotency", "put"])
        XCTAssertEqual(unfit.status, 1, unfit.stdoutText)
        XCTAssertTrue(unfit.stdoutText.contains("set bundle: transaction"), unfit.stdoutText)
        XCTAssertTrue(unfit.stdoutText.contains("set idempotency: conditional-create"), unfit.stdoutText)

        let fit = try CommandRunner.run(["upstream", "check", "--url", url, "--bundle-type", "transaction", "--idempotency", "conditional-create"])
        XCTAssertEqual(fit.status, 0, fit.stdoutText)
    }

    func testAnUnreachableServerIsUnusable() throws {
        let port = try freeLoopbackPort()
        let run = try CommandRunner.run(["upstream", "check", "--url", "http://127.0.0.1:\(port)/fhir", "--timeout", "3"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdoutText.contains("connection-refused"), run.stdoutText)
        XCTAssertTrue(run.stdoutText.contains("usable: no"), run.stdoutText)
    }
}
