import Foundation
import TestSupport
import Upstream
import XCTest

/// Every authentication mode against a real server: sekmet-fhir's static bearer tokens and its
/// OAuth2 client-credentials endpoint, and SMART Backend Services against the token endpoint in
/// Tests/peers, which verifies the client assertion's signature and claims independently.
final class AuthEndToEndTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = try temporaryDirectory("upstream-auth")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    private func server(_ settings: String) throws -> FHIRServer? {
        guard let venv = TestVenv.directory() else { return nil }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"), extraSettings: settings)
        try server.start()
        return server
    }

    private func client(_ server: FHIRServer, _ configuration: UpstreamAuthConfiguration, secrets: SecretResolver = .process) throws -> FHIRClient {
        let transport = CurlTransport(options: CurlTransport.Options(connectTimeout: .seconds(5), totalTimeout: .seconds(20)))
        let authenticator = try configuration.makeAuthenticator(transport: transport, secrets: secrets)
        return FHIRClient(baseURL: server.baseURL, transport: transport, authenticator: authenticator)
    }

    private static let patient = Array(#"{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"p1"}]}"#.utf8)

    func testStaticBearerTokenFromAFile() async throws {
        guard let server = try server("server_auth: {types: [bearer], tokens: [e2e-s3cret]}") else { return }
        defer { server.stop() }
        let tokenFile = work.appendingPathComponent("token")
        try writeSecretFile("e2e-s3cret\n", to: tokenFile)

        let good = try client(server, UpstreamAuthConfiguration(mode: .bearer(token: .file(tokenFile.path, keyPath: "upstream.auth.token"))))
        let created = try await good.send(good.request("POST", "Patient", body: Self.patient))
        XCTAssertEqual(created.status, 201, created.bodyText)
        let search = try await good.send(good.request("GET", "Patient?identifier=urn:test|p1"))
        XCTAssertEqual(search.status, 200)

        let wrong = try client(
            server, UpstreamAuthConfiguration(mode: .bearer(token: .environment("E2E_TOKEN", keyPath: "upstream.auth.token"))),
            secrets: .fixed(environment: ["E2E_TOKEN": "not-the-token"]))
        let refused = try await wrong.send(wrong.request("GET", "Patient"))
        XCTAssertEqual(refused.status, 401)
        let anonymous = FHIRClient(baseURL: server.baseURL, transport: CurlTransport())
        let none = try await anonymous.send(anonymous.request("GET", "Patient"))
        XCTAssertEqual(none.status, 401)
    }

    func testOAuth2ClientCredentialsBasicAndPostAgainstTheServersTokenEndpoint() async throws {
        guard let venv = TestVenv.directory() else { return }
        let settings = """
            server_auth: {types: [smart], token_lifetime: 3600, smart_clients: [{client_id: edge-gw, client_secret: cc-s3cret, scopes: "system/Observation.* system/Patient.* system/Device.*"}]}
            """
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"), extraSettings: settings)
        try server.start()
        defer { server.stop() }
        // A proxy in front of the token endpoint counts token requests.
        let proxy = try PeerProcess(script: "fault_proxy.py", arguments: ["--upstream", server.rootURL], venv: venv, directory: work)
        defer { proxy.stop() }
        let tokenURL = "http://127.0.0.1:\(proxy.port)/auth/token"

        for method in UpstreamAuthConfiguration.ClientSecretMethod.allCases {
            let configuration = UpstreamAuthConfiguration(
                mode: .clientCredentials(.init(
                    tokenURL: tokenURL, clientID: "edge-gw", clientSecret: .environment("E2E_SECRET", keyPath: "upstream.auth.clientSecret"),
                    method: method, scope: "system/Patient.* system/Observation.*")))
            let client = try client(server, configuration, secrets: .fixed(environment: ["E2E_SECRET": "cc-s3cret"]))
            for _ in 0..<3 {
                let created = try await client.send(client.request("POST", "Patient", body: Self.patient))
                XCTAssertEqual(created.status, 201, "\(method): \(created.bodyText)")
            }
            let wrong = try self.client(server, configuration, secrets: .fixed(environment: ["E2E_SECRET": "wrong"]))
            do {
                _ = try await wrong.send(wrong.request("GET", "Patient"))
                XCTFail("\(method): a wrong secret gets no token")
            } catch {
                XCTAssertEqual(error.kind, .authentication)
                XCTAssertTrue(error.message.contains("invalid_client"), error.message)
                XCTAssertFalse(error.message.contains("wrong"), error.message)
            }
        }
        let stats = try XCTUnwrap(proxy.json("GET", "/_proxy/stats") as? [String: Any])
        let tokenRequests = (stats["requests"] as? [String] ?? []).filter { $0.hasSuffix("/auth/token") }
        XCTAssertEqual(tokenRequests.count, 4, "one cached token per client, one refused request per wrong secret: \(tokenRequests)")
    }

    func testSMARTBackendServicesWithRS384AndES384Keys() async throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(
            venv: venv, home: work.appendingPathComponent("sekmet"),
            extraSettings: "server_auth: {types: [bearer], tokens: [smart-issued-1, smart-issued-2, smart-issued-3]}")
        try server.start()
        defer { server.stop() }

        for (algorithm, format) in [("RS384", "pkcs1"), ("ES384", "sec1"), ("ES384", "pkcs8")] {
            let keys = work.appendingPathComponent("keys-\(algorithm)-\(format)")
            try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
            let keygen = try ChildProcess(
                name: "keygen", executable: venv.appendingPathComponent("bin/python"),
                arguments: [Conformance.packageRoot.appendingPathComponent("Tests/peers/token_server.py").path, "keygen", "--alg", algorithm,
                            "--format", format, "--out", keys.path],
                directory: keys, log: keys.appendingPathComponent("keygen.log"))
            XCTAssertEqual(keygen.finish(), 0, keygen.logText)
            // The first token is one the FHIR server does not accept: the client must refresh once on 401.
            let tokenServer = try PeerProcess(
                script: "token_server.py",
                arguments: ["--client-id", "edge-gw", "--public-key", keys.appendingPathComponent("public.pem").path, "--kid", "gw-key-1",
                            "--alg", algorithm, "--issue", "revoked-token", "--issue", "smart-issued-2", "--lifetime", "300"],
                venv: venv, directory: keys)
            defer { tokenServer.stop() }
            let configuration = UpstreamAuthConfiguration(
                mode: .smartBackendServices(.init(
                    tokenURL: "http://127.0.0.1:\(tokenServer.port)/token", clientID: "edge-gw", keyID: "gw-key-1",
                    privateKey: .file(keys.appendingPathComponent("private.pem").path, keyPath: "upstream.auth.privateKey"),
                    scope: "system/Observation.write system/Patient.write")))
            let client = try client(server, configuration)
            for _ in 0..<3 {
                let created = try await client.send(client.request("POST", "Patient", body: Self.patient))
                XCTAssertEqual(created.status, 201, "\(algorithm) \(format): \(created.bodyText)")
            }
            let stats = try XCTUnwrap(tokenServer.json("GET", "/stats") as? [String: Any])
            XCTAssertEqual(stats["refused"] as? [String], [], "\(algorithm) \(format): the token endpoint accepted every assertion")
            XCTAssertEqual(stats["issued"] as? [String], ["revoked-token", "smart-issued-2"], "\(algorithm) \(format): one refresh after the 401")
            let assertions = stats["assertions"] as? [[String: Any]] ?? []
            XCTAssertEqual(Set(assertions.compactMap { $0["jti"] as? String }).count, 2, "a fresh jti per assertion")
        }
    }

    func testATamperedKeyIsRefusedByTheTokenEndpoint() async throws {
        guard let venv = TestVenv.directory() else { return }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"), extraSettings: "server_auth: {types: [bearer], tokens: [t]}")
        try server.start()
        defer { server.stop() }
        var keyFolders: [URL] = []
        for name in ["registered", "other"] {
            let folder = work.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let keygen = try ChildProcess(
                name: "keygen", executable: venv.appendingPathComponent("bin/python"),
                arguments: [Conformance.packageRoot.appendingPathComponent("Tests/peers/token_server.py").path, "keygen", "--alg", "ES384",
                            "--out", folder.path],
                directory: folder, log: folder.appendingPathComponent("keygen.log"))
            XCTAssertEqual(keygen.finish(), 0, keygen.logText)
            keyFolders.append(folder)
        }
        let tokenServer = try PeerProcess(
            script: "token_server.py",
            arguments: ["--client-id", "edge-gw", "--public-key", keyFolders[0].appendingPathComponent("public.pem").path, "--kid", "k",
                        "--alg", "ES384", "--issue", "t"],
            venv: venv, directory: work)
        defer { tokenServer.stop() }
        let configuration = UpstreamAuthConfiguration(
            mode: .smartBackendServices(.init(
                tokenURL: "http://127.0.0.1:\(tokenServer.port)/token", clientID: "edge-gw", keyID: "k",
                privateKey: .file(keyFolders[1].appendingPathComponent("private.pem").path, keyPath: "upstream.auth.privateKey"))))
        let client = try client(server, configuration)
        do {
            _ = try await client.send(client.request("GET", "Patient"))
            XCTFail("a key that is not registered gets no token")
        } catch {
            XCTAssertEqual(error.kind, .authentication)
            XCTAssertTrue(error.message.contains("signature does not verify"), error.message)
        }
    }
}
