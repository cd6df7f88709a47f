package import EdgeCore
import EdgeSystem
package import JSONQuery
import Store

/// How the gateway authenticates to the upstream FHIR server and which TLS material it uses:
/// the `auth:` and `tls:` sections of `upstream:` in the configuration file. Secrets are never
/// written here; they are referenced by file (`{secretFile: PATH}`) or environment variable
/// (`{secretEnv: NAME}`) and read when the authenticator is made.
package struct UpstreamAuthConfiguration: Sendable, Hashable {
    package enum Mode: Sendable, Hashable {
        /// No credentials (loopback servers, or servers that authenticate the client by mTLS).
        case none
        /// A fixed `Authorization: Bearer` token.
        case bearer(token: SecretReference)
        /// OAuth2 client credentials with a client secret (Azure AD, Keycloak, SMART servers).
        case clientCredentials(ClientCredentials)
        /// SMART Backend Services: client credentials with a signed JWT (`private_key_jwt`).
        case smartBackendServices(SMARTBackendServices)

        /// The configuration spelling (`auth.mode`).
        package var name: String {
            switch self {
            case .none: "none"
            case .bearer: "bearer"
            case .clientCredentials: "client-credentials"
            case .smartBackendServices: "smart-backend-services"
            }
        }
    }

    package enum ClientSecretMethod: String, Sendable, Hashable, CaseIterable {
        case basic = "client_secret_basic"
        case post = "client_secret_post"
    }

    package struct ClientCredentials: Sendable, Hashable {
        package var tokenURL: String
        package var clientID: String
        package var clientSecret: SecretReference
        package var method: ClientSecretMethod
        /// OAuth2 / Azure AD v2: e.g. `https://WORKSPACE-SERVICE.fhir.azurehealthcareapis.com/.default`.
        package var scope: String?
        /// Azure AD v1: the FHIR service URL as `resource`.
        package var resource: String?

        package init(
            tokenURL: String, clientID: String, clientSecret: SecretReference, method: ClientSecretMethod = .basic,
            scope: String? = nil, resource: String? = nil
        ) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.method = method
            self.scope = scope
            self.resource = resource
        }
    }

    package struct SMARTBackendServices: Sendable, Hashable {
        package static let defaultScope =
            "system/Observation.read system/Observation.write system/Device.read system/Device.write system/Patient.read system/Patient.write"

        package var tokenURL: String
        package var clientID: String
        /// `kid` of the registered public key (in the client's JWK Set).
        package var keyID: String
        /// PEM private key: PKCS#8, SEC1 (EC) or PKCS#1 (RSA).
        package var privateKey: SecretReference
        /// Must match the key when set; otherwise RS384 for RSA keys and ES384 for P-384 keys.
        package var algorithm: ClientAssertionAlgorithm?
        package var scope: String

        package init(
            tokenURL: String, clientID: String, keyID: String, privateKey: SecretReference,
            algorithm: ClientAssertionAlgorithm? = nil, scope: String = SMARTBackendServices.defaultScope
        ) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.keyID = keyID
            self.privateKey = privateKey
            self.algorithm = algorithm
            self.scope = scope
        }
    }

    /// TLS material for the transport (`CurlTransport.Options`). Verification is always on for
    /// hosts other than loopback.
    package struct TLS: Sendable, Hashable {
        /// PEM CA certificates to trust instead of the system's (a private CA).
        package var caBundle: String?
        /// PEM client certificate and its key, for mutual TLS.
        package var clientCertificate: String?
        package var clientKey: String?

        package init(caBundle: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
            self.caBundle = caBundle
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
        }
    }

    package var mode: Mode
    package var tls: TLS

    package init(mode: Mode = .none, tls: TLS = TLS()) {
        self.mode = mode
        self.tls = tls
    }

    /// `base` with this configuration's CA bundle and client certificate.
    package func transportOptions(_ base: CurlTransport.Options = CurlTransport.Options()) -> CurlTransport.Options {
        var options = base
        options.caBundlePath = tls.caBundle ?? base.caBundlePath
        options.clientCertificatePath = tls.clientCertificate ?? base.clientCertificatePath
        options.clientKeyPath = tls.clientKey ?? base.clientKeyPath
        return options
    }

    /// Reads the secrets and makes the authenticator. Token requests go through `transport`;
    /// `now` and `randomBytes` feed token expiry and the assertion's `exp` and `jti`.
    package func makeAuthenticator(
        transport: any HTTPTransport, secrets: SecretResolver = .process,
        now: @escaping @Sendable () -> Timestamp = UpstreamAuthConfiguration.systemClock,
        randomBytes: @escaping @Sendable (Int) -> [UInt8] = UpstreamAuthConfiguration.systemRandomBytes
    ) throws(UpstreamAuthError) -> any UpstreamAuthenticator {
        switch mode {
        case .none:
            return NoAuthentication()
        case .bearer(let reference):
            return StaticBearerAuthentication(token: try secrets.text(reference))
        case .clientCredentials(let settings):
            let secret = try secrets.text(settings.clientSecret)
            let client: TokenClientAuthentication = switch settings.method {
            case .basic: .clientSecretBasic(clientID: settings.clientID, secret: secret)
            case .post: .clientSecretPost(clientID: settings.clientID, secret: secret)
            }
            return OAuth2TokenAuthenticator(
                tokenURL: settings.tokenURL, clientAuthentication: client, scope: settings.scope, resource: settings.resource,
                transport: transport, now: now, randomBytes: randomBytes)
        case .smartBackendServices(let settings):
            let pem = String(decoding: try secrets.bytes(settings.privateKey), as: UTF8.self)
            let key = try AssertionSigningKey(pem: pem, origin: settings.privateKey.description)
            if let wanted = settings.algorithm, wanted != key.algorithm {
                throw UpstreamAuthError(
                    .invalidSecret,
                    "\(settings.privateKey.description): algorithm \(wanted.rawValue) needs \(wanted == .rs384 ? "an RSA" : "a P-384 EC") key; this key signs \(key.algorithm.rawValue)")
            }
            let builder = ClientAssertionBuilder(clientID: settings.clientID, tokenURL: settings.tokenURL, keyID: settings.keyID, signingKey: key)
            return OAuth2TokenAuthenticator(
                tokenURL: settings.tokenURL, clientAuthentication: .privateKeyJWT(builder), scope: settings.scope, resource: nil,
                transport: transport, now: now, randomBytes: randomBytes)
        }
    }

    /// Wall-clock time, as the store reads it.
    package static let systemClock: @Sendable () -> Timestamp = { Store.systemClock() }

    package static let systemRandomBytes: @Sendable (Int) -> [UInt8] = { SystemRandom.bytes($0) }
}

/// One problem in the `auth:` or `tls:` sections, with its dotted key path.
package struct UpstreamConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    package var keyPath: String
    package var message: String

    package init(keyPath: String, message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    package var description: String { keyPath.isEmpty ? message : keyPath + ": " + message }
}

extension UpstreamAuthConfiguration {
    /// Decodes the `auth` and `tls` sections (as parsed from YAML or JSON; scalars may be text)
    /// found under `keyPath`. Relative paths resolve against `baseDirectory`. Every problem is
    /// reported at once; the configuration is nil when there is any.
    package static func decode(
        auth: JSONValue?, tls: JSONValue?, keyPath: String = "upstream", baseDirectory: String = "."
    ) -> (UpstreamAuthConfiguration?, [UpstreamConfigurationProblem]) {
        var reader = AuthSectionReader(baseDirectory: baseDirectory)
        let mode = auth.flatMap { reader.mode($0, at: join(keyPath, "auth")) } ?? (auth == nil ? Mode.none : nil)
        let tlsSettings = tls.map { reader.tls($0, at: join(keyPath, "tls")) } ?? TLS()
        if (tlsSettings.clientCertificate == nil) != (tlsSettings.clientKey == nil) {
            reader.problem(join(keyPath, "tls"), "clientCertificate and clientKey go together for mutual TLS; set both or neither")
        }
        guard let mode, reader.problems.isEmpty else { return (nil, reader.problems) }
        return (UpstreamAuthConfiguration(mode: mode, tls: tlsSettings), [])
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }
}

/// Walks the parsed sections, collecting problems.
struct AuthSectionReader {
    let baseDirectory: String
    var problems: [UpstreamConfigurationProblem] = []

    mutating func problem(_ path: String, _ message: String) {
        problems.append(UpstreamConfigurationProblem(keyPath: path, message: message))
    }

    static let modeKeys: [String: Set<String>] = [
        "none": [],
        "bearer": ["token"],
        "client-credentials": ["tokenURL", "clientID", "clientSecret", "clientAuthentication", "scope", "resource"],
        "smart-backend-services": ["tokenURL", "clientID", "privateKey", "keyID", "algorithm", "scope"],
    ]

    mutating func mode(_ value: JSONValue, at path: String) -> UpstreamAuthConfiguration.Mode? {
        guard let object = value.objectValue else {
            problem(path, "expected a mapping with mode and its settings")
            return nil
        }
        guard let modeName = string(object["mode"], at: UpstreamAuthConfiguration.join(path, "mode"), required: true) else { return nil }
        guard let allowed = Self.modeKeys[modeName] else {
            problem(UpstreamAuthConfiguration.join(path, "mode"), "unknown mode \(modeName); expected one of: none, bearer, client-credentials, smart-backend-services")
            return nil
        }
        for key in object.keys where key != "mode" && !allowed.contains(key) {
            let known = Set(Self.modeKeys.values.joined())
            problem(
                UpstreamAuthConfiguration.join(path, key),
                known.contains(key) ? "not used by mode \(modeName)" : "unknown key; mode \(modeName) takes: \(allowed.sorted().joined(separator: ", "))")
        }
        func key(_ name: String) -> String { UpstreamAuthConfiguration.join(path, name) }
        switch modeName {
        case "none":
            return UpstreamAuthConfiguration.Mode.none
        case "bearer":
            guard let token = secret(object["token"], at: key("token")) else { return nil }
            return .bearer(token: token)
        case "client-credentials":
            let tokenURL = url(object["tokenURL"], at: key("tokenURL"))
            let clientID = string(object["clientID"], at: key("clientID"), required: true)
            let clientSecret = secret(object["clientSecret"], at: key("clientSecret"))
            var method = UpstreamAuthConfiguration.ClientSecretMethod.basic
            if let text = string(object["clientAuthentication"], at: key("clientAuthentication"), required: false) {
                if let parsed = UpstreamAuthConfiguration.ClientSecretMethod(rawValue: text) {
                    method = parsed
                } else {
                    problem(key("clientAuthentication"), "expected client_secret_basic or client_secret_post")
                }
            }
            let scope = string(object["scope"], at: key("scope"), required: false)
            let resource = string(object["resource"], at: key("resource"), required: false)
            guard let tokenURL, let clientID, let clientSecret else { return nil }
            return .clientCredentials(
                .init(tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret, method: method, scope: scope, resource: resource))
        default:
            let tokenURL = url(object["tokenURL"], at: key("tokenURL"))
            let clientID = string(object["clientID"], at: key("clientID"), required: true)
            let keyID = string(object["keyID"], at: key("keyID"), required: true)
            let privateKey = secret(object["privateKey"], at: key("privateKey"))
            var algorithm: ClientAssertionAlgorithm?
            if let text = string(object["algorithm"], at: key("algorithm"), required: false) {
                algorithm = ClientAssertionAlgorithm(rawValue: text.uppercased())
                if algorithm == nil { problem(key("algorithm"), "expected RS384 or ES384") }
            }
            let scope = string(object["scope"], at: key("scope"), required: false)
            guard let tokenURL, let clientID, let keyID, let privateKey else { return nil }
            return .smartBackendServices(
                .init(
                    tokenURL: tokenURL, clientID: clientID, keyID: keyID, privateKey: privateKey, algorithm: algorithm,
                    scope: scope ?? UpstreamAuthConfiguration.SMARTBackendServices.defaultScope))
        }
    }

    mutating func tls(_ value: JSONValue, at path: String) -> UpstreamAuthConfiguration.TLS {
        var tls = UpstreamAuthConfiguration.TLS()
        guard let object = value.objectValue else {
            problem(path, "expected a mapping with caBundle, clientCertificate and clientKey")
            return tls
        }
        for key in object.keys where !["caBundle", "clientCertificate", "clientKey"].contains(key) {
            problem(UpstreamAuthConfiguration.join(path, key), "unknown key; expected one of: caBundle, clientCertificate, clientKey")
        }
        tls.caBundle = self.path(object["caBundle"], at: UpstreamAuthConfiguration.join(path, "caBundle"))
        tls.clientCertificate = self.path(object["clientCertificate"], at: UpstreamAuthConfiguration.join(path, "clientCertificate"))
        if case .object(let keyObject)? = object["clientKey"], let file = keyObject["secretFile"]?.stringValue, keyObject.count == 1 {
            tls.clientKey = resolve(file)
        } else {
            tls.clientKey = self.path(object["clientKey"], at: UpstreamAuthConfiguration.join(path, "clientKey"))
        }
        return tls
    }

    mutating func string(_ value: JSONValue?, at path: String, required: Bool) -> String? {
        guard let value, !value.isNull else {
            if required { problem(path, "missing") }
            return nil
        }
        let text: String?
        switch value {
        case .string(let string): text = string
        case .int(let number): text = String(number)
        case .exactNumber(let number) where number.isInteger: text = number.text
        default: text = nil
        }
        guard let text, !text.isEmpty else {
            problem(path, "expected text")
            return nil
        }
        return text
    }

    mutating func url(_ value: JSONValue?, at path: String) -> String? {
        guard let text = string(value, at: path, required: true) else { return nil }
        let lower = text.lowercased()
        if lower.hasPrefix("https://") { return text }
        if lower.hasPrefix("http://"), CurlTransport.isLoopback(text) { return text }
        if lower.hasPrefix("http://") {
            problem(path, "credentials are sent only over https; plain http is allowed for loopback hosts alone")
        } else {
            problem(path, "expected an https:// URL")
        }
        return nil
    }

    mutating func path(_ value: JSONValue?, at path: String) -> String? {
        string(value, at: path, required: false).map(resolve)
    }

    func resolve(_ path: String) -> String {
        FilePaths.resolve(path, against: baseDirectory)
    }

    /// `{secretFile: PATH}` or `{secretEnv: NAME}`; inline text is refused so a secret never
    /// sits in the main configuration (which is readable, versioned and printed in reports).
    mutating func secret(_ value: JSONValue?, at path: String) -> SecretReference? {
        guard let value, !value.isNull else {
            problem(path, "missing; give {secretFile: PATH} or {secretEnv: NAME}")
            return nil
        }
        guard let object = value.objectValue else {
            problem(path, "secrets are never written into the configuration; give {secretFile: PATH} or {secretEnv: NAME}")
            return nil
        }
        let file = object["secretFile"]?.stringValue
        let environment = object["secretEnv"]?.stringValue
        for key in object.keys where key != "secretFile" && key != "secretEnv" {
            problem(UpstreamAuthConfiguration.join(path, key), "unknown key; expected secretFile or secretEnv")
        }
        switch (file, environment) {
        case (let file?, nil) where !file.isEmpty:
            return .file(resolve(file), keyPath: path)
        case (nil, let name?) where !name.isEmpty:
            return .environment(name, keyPath: path)
        case (.some, .some):
            problem(path, "give either secretFile or secretEnv, not both")
        default:
            problem(path, "expected {secretFile: PATH} or {secretEnv: NAME} with a non-empty value")
        }
        return nil
    }
}
