import EdgeCore
import Foundation
import JSONQuery
@testable import Upstream
import TestSupport
import XCTest

/// Client assertions (SMART Backend Services), PEM keys, token caching and refresh, client
/// secret forms and the configuration of authentication.
final class AuthClientAssertionTests: XCTestCase {
    var directory: URL!
    var openssl: URL?

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("auth-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        openssl = try TestKeys.make(in: directory)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func pem(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    func testBase64URLRoundTripsEveryLength() {
        XCTAssertEqual(Base64URL.encode(Array("f".utf8)), "Zg")
        XCTAssertEqual(Base64URL.encode(Array("fo".utf8)), "Zm8")
        XCTAssertEqual(Base64URL.encode(Array("foo".utf8)), "Zm9v")
        XCTAssertEqual(Base64URL.encode([0xfb, 0xff, 0xfe]), "-__-")
        var generator = SplitMix64(seed: 2026)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertEqual(Base64URL.decode(Base64URL.encode(bytes)), bytes)
        }
        XCTAssertNil(Base64URL.decode("ab+c"))
        XCTAssertNil(Base64URL.decode("a"))
    }

    func testAssertionsVerifyWithOpenSSLForEveryKeyFormat() throws {
        guard let openssl else { return }
        let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_987)
        for (file, publicFile, algorithm) in [
            ("rsa-pkcs1.pem", "rsa-public.pem", "RS384"), ("rsa-pkcs8.pem", "rsa-public.pem", "RS384"),
            ("ec-sec1.pem", "ec-public.pem", "ES384"), ("ec-pkcs8.pem", "ec-public.pem", "ES384"),
        ] {
            let key = try AssertionSigningKey(pem: pem(file), origin: file)
            XCTAssertEqual(key.algorithm.rawValue, algorithm, file)
            let builder = ClientAssertionBuilder(
                clientID: "edge-gw", tokenURL: "https://auth.example.org/token", keyID: "key-1", signingKey: key)
            let jwt = try DecodedJWT(builder.assertion(now: now, jti: "jti-\(file)"))
            XCTAssertEqual(jwt.header["alg"] as? String, algorithm, file)
            XCTAssertEqual(jwt.header["kid"] as? String, "key-1", file)
            XCTAssertEqual(jwt.header["typ"] as? String, "JWT", file)
            XCTAssertEqual(jwt.claims["iss"] as? String, "edge-gw")
            XCTAssertEqual(jwt.claims["sub"] as? String, "edge-gw")
            XCTAssertEqual(jwt.claims["aud"] as? String, "https://auth.example.org/token")
            XCTAssertEqual(jwt.claims["jti"] as? String, "jti-\(file)")
            // exp is a whole number of seconds, at most five minutes after now.
            let exp = try XCTUnwrap(jwt.claims["exp"] as? NSNumber, file)
            XCTAssertTrue(jwt.claimsText.contains("\"exp\":\(exp.int64Value),"), "exp must be an integer: \(jwt.claimsText)")
            XCTAssertEqual(exp.int64Value, 1_800_000_000 + 240)
            XCTAssertLessThanOrEqual(exp.int64Value - now.millisecondsSinceEpoch / 1000, 300)

            let signature = algorithm == "ES384" ? DecodedJWT.derFromRaw(jwt.signature) : jwt.signature
            XCTAssertEqual(algorithm == "ES384" ? jwt.signature.count : 256, jwt.signature.count)
            try Data(jwt.signingInput.utf8).write(to: directory.appendingPathComponent("input"))
            try signature.write(to: directory.appendingPathComponent("signature"))
            let verified = try TestKeys.run(
                openssl.path, ["dgst", "-sha384", "-verify", publicFile, "-signature", "signature", "input"], in: directory)
            XCTAssertEqual(verified, 0, "\(file): openssl verifies the \(algorithm) signature")
            // A changed claim no longer verifies: the check above can fail.
            try Data((jwt.signingInput + "x").utf8).write(to: directory.appendingPathComponent("input"))
            let tampered = try TestKeys.run(
                openssl.path, ["dgst", "-sha384", "-verify", publicFile, "-signature", "signature", "input"], in: directory)
            XCTAssertNotEqual(tampered, 0, file)
        }
    }

    func testLifetimeIsCappedAtFiveMinutesAndNowIsRoundedDown() throws {
        guard openssl != nil else { return }
        let key = try AssertionSigningKey(pem: pem("ec-sec1.pem"), origin: "key")
        let builder = ClientAssertionBuilder(clientID: "c", tokenURL: "https://t", keyID: "k", signingKey: key, lifetimeSeconds: 3600)
        let jwt = try DecodedJWT(builder.assertion(now: Timestamp(millisecondsSinceEpoch: 1_000_999), jti: "j"))
        XCTAssertEqual((jwt.claims["exp"] as? NSNumber)?.int64Value, 1000 + 300)
        XCTAssertEqual((jwt.claims["iat"] as? NSNumber)?.int64Value, 1000)
    }

    func testUnusableKeysAreRefusedWithTheReason() throws {
        guard openssl != nil else { return }
        let cases: [(String, String)] = [
            ("rsa1024.pem", "2048"), ("ec256.pem", "P-384"), ("rsa-encrypted.pem", "encrypted"),
        ]
        for (file, expected) in cases {
            XCTAssertThrowsError(try AssertionSigningKey(pem: pem(file), origin: "upstream.auth.privateKey")) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), "\(file): \(message)")
                XCTAssertTrue(message.contains("upstream.auth.privateKey"), message)
            }
        }
        XCTAssertThrowsError(try AssertionSigningKey(pem: "not a key", origin: "k")) { error in
            XCTAssertTrue("\(error)".contains("PEM"), "\(error)")
        }
        // The configured algorithm must fit the key.
        let configuration = UpstreamAuthConfiguration(
            mode: .smartBackendServices(.init(
                tokenURL: "https://t.example/token", clientID: "c", keyID: "k",
                privateKey: .file(directory.appendingPathComponent("ec-sec1.pem").path, keyPath: "upstream.auth.privateKey"),
                algorithm: .rs384)))
        XCTAssertThrowsError(try configuration.makeAuthenticator(transport: ScriptedTokenTransport())) { error in
            XCTAssertTrue("\(error)".contains("RS384"), "\(error)")
        }
    }

    func testSMARTTokenRequestCarriesTheAssertionForm() async throws {
        guard openssl != nil else { return }
        let transport = ScriptedTokenTransport(tokenURL: "https://auth.example.org/token", replies: [ScriptedTokenTransport.token("t1")])
        let clock = TestClock()
        let configuration = UpstreamAuthConfiguration(
            mode: .smartBackendServices(.init(
                tokenURL: "https://auth.example.org/token", clientID: "edge gw", keyID: "k1",
                privateKey: .file(directory.appendingPathComponent("rsa-pkcs8.pem").path, keyPath: "upstream.auth.privateKey"),
                scope: "system/Observation.write")))
        let authenticator = try configuration.makeAuthenticator(
            transport: transport, now: clock.function, randomBytes: { Array(repeating: 0xab, count: $0) })
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/metadata")
        try await authenticator.authorize(&request)
        XCTAssertEqual(request.headers["Authorization"], "Bearer t1")
        let tokenRequest = try XCTUnwrap(transport.tokenRequests.first)
        XCTAssertEqual(tokenRequest.method, "POST")
        XCTAssertEqual(tokenRequest.headers["Content-Type"], "application/x-www-form-urlencoded")
        XCTAssertNil(tokenRequest.headers["Authorization"])
        let form = Self.form(tokenRequest.body)
        XCTAssertEqual(form["grant_type"], "client_credentials")
        XCTAssertEqual(form["scope"], "system/Observation.write")
        XCTAssertEqual(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        let jwt = try DecodedJWT(try XCTUnwrap(form["client_assertion"]))
        XCTAssertEqual(jwt.claims["iss"] as? String, "edge gw")
        XCTAssertEqual(jwt.claims["jti"] as? String, String(repeating: "ab", count: 16))
        XCTAssertEqual((jwt.claims["exp"] as? NSNumber)?.int64Value, clock.now.millisecondsSinceEpoch / 1000 + 240)
    }

    static func form(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}

final class AuthTokenCachingTests: XCTestCase {
    private func clientCredentials(
        _ transport: ScriptedTokenTransport, clock: TestClock, method: UpstreamAuthConfiguration.ClientSecretMethod = .basic,
        scope: String? = nil, resource: String? = nil
    ) throws -> any UpstreamAuthenticator {
        let configuration = UpstreamAuthConfiguration(
            mode: .clientCredentials(.init(
                tokenURL: transport.tokenURL, clientID: "gw/1", clientSecret: .environment("GW_SECRET", keyPath: "upstream.auth.clientSecret"),
                method: method, scope: scope, resource: resource)))
        return try configuration.makeAuthenticator(
            transport: transport, secrets: .fixed(environment: ["GW_SECRET": "s3cr+t=&"]), now: clock.function)
    }

    func testTokenIsCachedUntilShortlyBeforeExpiryThenRefreshed() async throws {
        let transport = ScriptedTokenTransport(replies: [ScriptedTokenTransport.token("t1", expiresIn: 600), ScriptedTokenTransport.token("t2")])
        let clock = TestClock()
        let authenticator = try clientCredentials(transport, clock: clock)
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
        for _ in 0..<5 { try await authenticator.authorize(&request) }
        XCTAssertEqual(request.headers["Authorization"], "Bearer t1")
        XCTAssertEqual(transport.tokenRequests.count, 1)
        clock.advance(seconds: 539)  // 600 s minus a minute's margin: still fresh
        try await authenticator.authorize(&request)
        XCTAssertEqual(transport.tokenRequests.count, 1)
        clock.advance(seconds: 1)
        try await authenticator.authorize(&request)
        XCTAssertEqual(request.headers["Authorization"], "Bearer t2")
        XCTAssertEqual(transport.tokenRequests.count, 2)
    }

    func testInvalidateForcesOneNewToken() async throws {
        let transport = ScriptedTokenTransport(replies: [ScriptedTokenTransport.token("t1"), ScriptedTokenTransport.token("t2")])
        let authenticator = try clientCredentials(transport, clock: TestClock())
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
        try await authenticator.authorize(&request)
        await authenticator.invalidate()
        try await authenticator.authorize(&request)
        try await authenticator.authorize(&request)
        XCTAssertEqual(request.headers["Authorization"], "Bearer t2")
        XCTAssertEqual(transport.tokenRequests.count, 2)
    }

    func testConcurrentRequestsShareOneTokenRequest() async throws {
        let transport = ScriptedTokenTransport(replies: [ScriptedTokenTransport.token("t1"), ScriptedTokenTransport.token("t2")])
        let authenticator = try clientCredentials(transport, clock: TestClock())
        let headers = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
                    try await authenticator.authorize(&request)
                    return request.headers["Authorization"]
                }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        XCTAssertEqual(Set(headers), ["Bearer t1"])
        XCTAssertEqual(transport.tokenRequests.count, 1)
        let counted = await (authenticator as? any CredentialRequestCounting)?.credentialRequests
        XCTAssertEqual(counted, 1)
    }

    func testFHIRClientRefreshesOnceAfter401() async throws {
        let transport = ScriptedTokenTransport(replies: ["old", "new", "newer"].map { ScriptedTokenTransport.token($0) })
        transport.acceptedTokens = ["new"]
        let client = FHIRClient(baseURL: "https://fhir.example.org/r4", transport: transport, authenticator: try clientCredentials(transport, clock: TestClock()))
        let response = try await client.send(client.request("GET", "Patient"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(transport.tokenRequests.count, 2)
        // Still refused after the refresh: the 401 is handed back, no third token request.
        transport.acceptedTokens = []
        let refused = try await client.send(client.request("GET", "Patient"))
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual(transport.tokenRequests.count, 3)
    }

    func testSecretFilesOtherUsersMayReadAreRefused() throws {
        func resolver(mode: UInt16) -> SecretResolver {
            SecretResolver(environment: { _ in nil }, readFile: { _ in Array("s3cret\n".utf8) }, fileMode: { _ in mode })
        }
        let reference = SecretReference.file("/etc/fhir-edge/token", keyPath: "upstream.auth.token")
        for mode: UInt16 in [0o644, 0o604, 0o666, 0o660] {
            XCTAssertThrowsError(try resolver(mode: mode).text(reference), "mode \(String(mode, radix: 8))") { error in
                let message = String(describing: error)
                XCTAssertTrue(message.contains("upstream.auth.token") && message.contains("chmod 600"), message)
                XCTAssertFalse(message.contains("s3cret"), "never the secret")
            }
        }
        for mode: UInt16 in [0o600, 0o640, 0o400] {
            XCTAssertEqual(try resolver(mode: mode).text(reference), "s3cret")
        }
    }

    func testClientSecretBasicFormEncodesBeforeBase64() async throws {
        let transport = ScriptedTokenTransport(replies: [ScriptedTokenTransport.token("t")])
        let authenticator = try clientCredentials(transport, clock: TestClock(), scope: "https://x.azurehealthcareapis.com/.default")
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
        try await authenticator.authorize(&request)
        let tokenRequest = try XCTUnwrap(transport.tokenRequests.first)
        let basic = try XCTUnwrap(tokenRequest.headers["Authorization"])
        XCTAssertTrue(basic.hasPrefix("Basic "))
        let decoded = String(decoding: Data(base64Encoded: String(basic.dropFirst(6))) ?? Data(), as: UTF8.self)
        XCTAssertEqual(decoded, "gw%2F1:s3cr%2Bt%3D%26")
        let form = AuthClientAssertionTests.form(tokenRequest.body)
        XCTAssertEqual(form, ["grant_type": "client_credentials", "scope": "https://x.azurehealthcareapis.com/.default"])
    }

    func testClientSecretPostAndAzureResource() async throws {
        let transport = ScriptedTokenTransport(replies: [ScriptedTokenTransport.token("t")])
        let authenticator = try clientCredentials(transport, clock: TestClock(), method: .post, resource: "https://x.azurehealthcareapis.com")
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
        try await authenticator.authorize(&request)
        let tokenRequest = try XCTUnwrap(transport.tokenRequests.first)
        XCTAssertNil(tokenRequest.headers["Authorization"])
        XCTAssertEqual(
            AuthClientAssertionTests.form(tokenRequest.body),
            ["grant_type": "client_credentials", "resource": "https://x.azurehealthcareapis.com", "client_id": "gw/1", "client_secret": "s3cr+t=&"])
    }

    func testTokenEndpointErrorsNameTheEndpointAndReasonButNotTheSecret() async throws {
        let refusal = UpstreamResponse(
            status: 401, body: Array(#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#.utf8))
        let unreachable = UpstreamTransportError(.connectionRefused, "Failed to connect", url: "https://login.example.org/token")
        let transport = ScriptedTokenTransport(replies: [
            .success(refusal), .failure(unreachable), .success(UpstreamResponse(status: 200, body: Array("{}".utf8))),
            .success(UpstreamResponse(status: 200, body: Array(#"{"access_token":"x","token_type":"mac"}"#.utf8))),
        ])
        let authenticator = try clientCredentials(transport, clock: TestClock())
        let expectations: [(UpstreamAuthError.Code, String)] = [
            (.tokenRefused, "invalid_client: Invalid client credentials"), (.tokenEndpointUnreachable, "Failed to connect"),
            (.tokenEndpointFailed, "without an access_token"), (.tokenEndpointFailed, "mac"),
        ]
        for (code, text) in expectations {
            var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
            do {
                try await authenticator.authorize(&request)
                XCTFail("expected \(code)")
            } catch let error as UpstreamAuthError {
                XCTAssertEqual(error.code, code, error.message)
                XCTAssertTrue(error.message.contains(text), error.message)
                XCTAssertTrue(error.message.contains("https://login.example.org/token"), error.message)
                XCTAssertFalse(error.message.contains("s3cr"), error.message)
            }
            XCTAssertNil(request.headers["Authorization"])
        }
    }

    func testStaticBearerReadsItsTokenFromAFileWithoutTheNewline() async throws {
        let configuration = UpstreamAuthConfiguration(mode: .bearer(token: .file("/run/secrets/fhir-token", keyPath: "upstream.auth.token")))
        let authenticator = try configuration.makeAuthenticator(
            transport: ScriptedTokenTransport(), secrets: .fixed(files: ["/run/secrets/fhir-token": "abc.def\n"]))
        var request = UpstreamRequest(method: "GET", url: "https://fhir.example.org/Patient")
        try await authenticator.authorize(&request)
        XCTAssertEqual(request.headers["Authorization"], "Bearer abc.def")
        XCTAssertFalse("\(authenticator)".contains("abc.def"))
    }

    func testMissingSecretsNameTheKeyAndTheSource() {
        let cases: [(SecretReference, String)] = [
            (.environment("NOPE_TOKEN", keyPath: "upstream.auth.token"), "upstream.auth.token: the environment variable NOPE_TOKEN is not set"),
            (.file("/nonexistent/token", keyPath: "upstream.auth.token"), "upstream.auth.token: cannot read the secret file /nonexistent/token"),
        ]
        for (reference, expected) in cases {
            let configuration = UpstreamAuthConfiguration(mode: .bearer(token: reference))
            XCTAssertThrowsError(try configuration.makeAuthenticator(transport: ScriptedTokenTransport(), secrets: .fixed())) { error in
                XCTAssertEqual((error as? UpstreamAuthError)?.code, .missingSecret)
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error)")
            }
        }
        XCTAssertThrowsError(try SecretResolver.fixed(environment: ["E": "  \n"]).text(.environment("E", keyPath: "k"))) { error in
            XCTAssertTrue("\(error)".contains("whitespace"), "\(error)")
        }
    }
}

final class AuthConfigurationTests: XCTestCase {
    private func decode(_ auth: JSONValue?, tls: JSONValue? = nil) -> (UpstreamAuthConfiguration?, [String]) {
        let (configuration, problems) = UpstreamAuthConfiguration.decode(auth: auth, tls: tls, keyPath: "upstream", baseDirectory: "/etc/fhir-edge")
        return (configuration, problems.map(\.description))
    }

    func testEveryModeDecodes() {
        XCTAssertEqual(decode(nil).0, UpstreamAuthConfiguration())
        XCTAssertEqual(decode(["mode": "none"]).0?.mode, UpstreamAuthConfiguration.Mode.none)
        XCTAssertEqual(
            decode(["mode": "bearer", "token": ["secretEnv": "FHIR_TOKEN"]]).0?.mode,
            .bearer(token: .environment("FHIR_TOKEN", keyPath: "upstream.auth.token")))
        XCTAssertEqual(
            decode([
                "mode": "client-credentials", "tokenURL": "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", "clientID": "app",
                "clientSecret": ["secretFile": "secrets/client"], "clientAuthentication": "client_secret_post",
                "scope": "https://ws-fhir.fhir.azurehealthcareapis.com/.default",
            ]).0?.mode,
            .clientCredentials(.init(
                tokenURL: "https://login.microsoftonline.com/tenant/oauth2/v2.0/token", clientID: "app",
                clientSecret: .file("/etc/fhir-edge/secrets/client", keyPath: "upstream.auth.clientSecret"), method: .post,
                scope: "https://ws-fhir.fhir.azurehealthcareapis.com/.default")))
        XCTAssertEqual(
            decode([
                "mode": "smart-backend-services", "tokenURL": "http://127.0.0.1:9999/token", "clientID": "gw", "keyID": "k1",
                "privateKey": ["secretFile": "/keys/gw.pem"], "algorithm": "es384",
            ]).0?.mode,
            .smartBackendServices(.init(
                tokenURL: "http://127.0.0.1:9999/token", clientID: "gw", keyID: "k1",
                privateKey: .file("/keys/gw.pem", keyPath: "upstream.auth.privateKey"), algorithm: .es384)))
        let tls = decode(nil, tls: ["caBundle": "ca.pem", "clientCertificate": "/tls/gw.crt", "clientKey": ["secretFile": "/tls/gw.key"]]).0?.tls
        XCTAssertEqual(tls, .init(caBundle: "/etc/fhir-edge/ca.pem", clientCertificate: "/tls/gw.crt", clientKey: "/tls/gw.key"))
        let options = UpstreamAuthConfiguration(tls: tls ?? .init()).transportOptions()
        XCTAssertEqual(options.caBundlePath, "/etc/fhir-edge/ca.pem")
        XCTAssertEqual(options.clientKeyPath, "/tls/gw.key")
    }

    func testEveryProblemIsReportedWithItsKeyPath() {
        let (configuration, problems) = decode(
            [
                "mode": "client-credentials", "tokenURL": "http://login.example.org/token", "clientSecret": "hunter2",
                "privateKey": ["secretFile": "k.pem"], "colour": "blue", "clientAuthentication": "client_secret_jwt",
            ],
            tls: ["clientCertificate": "gw.crt", "verify": false])
        XCTAssertNil(configuration)
        let expected = [
            "upstream.auth.tokenURL: credentials are sent only over https",
            "upstream.auth.clientID: missing",
            "upstream.auth.clientSecret: secrets are never written into the configuration",
            "upstream.auth.privateKey: not used by mode client-credentials",
            "upstream.auth.colour: unknown key",
            "upstream.auth.clientAuthentication: expected client_secret_basic or client_secret_post",
            "upstream.tls.verify: unknown key",
            "upstream.tls: clientCertificate and clientKey go together",
        ]
        for text in expected {
            XCTAssertTrue(problems.contains { $0.hasPrefix(text) }, "missing \(text) in \(problems)")
        }
        XCTAssertEqual(problems.count, expected.count, "\(problems)")
        XCTAssertFalse(problems.joined().contains("hunter2"), "a misplaced secret is not echoed")
    }

    func testSecretReferencesMustBeOneOfFileOrEnvironment() {
        let problems = decode(["mode": "bearer", "token": ["secretFile": "a", "secretEnv": "B"]]).1
        XCTAssertEqual(problems, ["upstream.auth.token: give either secretFile or secretEnv, not both"])
        XCTAssertEqual(decode(["mode": "bearer"]).1, ["upstream.auth.token: missing; give {secretFile: PATH} or {secretEnv: NAME}"])
        XCTAssertEqual(decode(["mode": "kerberos"]).1.count, 1)
    }
}
