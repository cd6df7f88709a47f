import ArgumentParser
import Audit
import Gateway
import JSONQuery
import Store
import Upstream

struct UpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upstream",
        abstract: "Check the upstream FHIR server, or send it what the outbox holds.",
        subcommands: [Check.self, Drain.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check connectivity, authentication and what the server's CapabilityStatement supports.",
            discussion: """
                Reads GET [base]/metadata, obtains credentials with the chosen mode (a token from the \
                token endpoint for client-credentials and smart-backend-services), makes one \
                authorised read, and compares the server's capabilities (transaction, batch, \
                update-create, conditional create) with the bundle type and idempotency scheme the \
                gateway would use, with advice where they do not fit. Secrets are read from files or \
                environment variables only and are never printed.

                With --config, the server and how to reach it come from the upstream: section of the \
                gateway's configuration file (the one `run` reads); flags replace what they name.

                Exits 0 when the server is usable as configured, 1 when it is not, 2 when the \
                configuration cannot be used.
                """)

        @Option(name: .long, help: "The gateway's configuration file; its upstream: section names the server and the credentials.")
        var config: String?

        @OptionGroup var connection: UpstreamConnectionOptions

        @Flag(name: .long, help: "Print the findings as JSON.")
        var json = false

        func run() async throws {
            let upstream = try connection.resolvingOrExiting(configurationFile: config)
            var report = UpstreamCheck(
                url: upstream.url, mode: upstream.auth.mode.name, bundleType: upstream.upload.bundleType, idempotency: upstream.upload.idempotency)
            await report.run(configuration: upstream.auth, transport: upstream.transport)
            if json {
                print(JSONWriter(options: [.pretty]).string(report.json))
            } else {
                for line in report.lines { print(line) }
            }
            if !report.usable { throw ExitCode(1) }
        }
    }
}

extension UpstreamCommand {
    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send what the outbox holds to the upstream server now, then exit.",
            discussion: """
                A one-shot sync for gateways that connect now and then, and for tests: uploads with \
                the same bundles, idempotency, retries and dead letters as the daemon. Not while the \
                daemon runs on the same store: like a starting daemon, it first takes back uploads \
                that were in flight when the last process stopped.

                With --config, the store and the server come from the gateway's configuration file \
                (its dataDir and upstream: section, with the section's bundle, batch size and retry \
                settings); flags replace what they name. Without an upstream: section, pass --url.

                Exits 0 when the outbox is empty, 1 when time ran out (what is left stays queued), \
                2 when the configuration or the store cannot be used.
                """)

        @OptionGroup var store: StoreLocation
        @OptionGroup var connection: UpstreamConnectionOptions

        @Option(name: .customLong("batch-size"), help: "Resources per bundle (default: upstream.batchSize of --config, else 100).")
        var batchSize: Int?

        @Option(name: .customLong("max-backoff"), help: "Longest pause, in seconds, between retries after failures (default: upstream.retryCap of --config, else 30).")
        var maxBackoff: Int?

        @Option(name: .long, help: "Give up after this many seconds.")
        var within: Int = 300

        func run() async throws {
            let upstream = try connection.resolvingOrExiting(configurationFile: store.config, dataDirectory: store.dataDir)
            if upstream.url.lowercased().hasPrefix("http://"), !CurlTransport.isLoopback(upstream.url) {
                // The configuration loader's rule, also for a URL given as a flag.
                reportToStandardError("fhir-edge: --url \(UpstreamTransportError.loggable(upstream.url)): plain http is allowed for loopback servers only; use https://")
                throw ExitCode(2)
            }
            var settings = upstream.upload
            if let batchSize { settings.batchSize = max(1, batchSize) }
            if let maxBackoff {
                settings.retry = RetryPolicy(base: .milliseconds(500), cap: .seconds(max(1, maxBackoff)), retryAfterCap: .seconds(max(1, maxBackoff)))
            } else if !upstream.fromConfiguration {
                settings.retry = RetryPolicy(base: .milliseconds(500), cap: .seconds(30), retryAfterCap: .seconds(30))
            }
            let path = upstream.storePath ?? GatewayConfiguration.storePath(inDataDirectory: store.dataDir ?? "fhir-edge-demo-data")
            let authenticator: any UpstreamAuthenticator
            do {
                authenticator = try upstream.auth.makeAuthenticator(transport: upstream.transport)
            } catch {
                reportToStandardError("fhir-edge: " + (upstream.fromConfiguration ? error.message : UpstreamConnectionOptions.flagSpelling(error.message)))
                throw ExitCode(2)
            }
            let opened: Store
            do {
                opened = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock,
                                   encryption: store.encryption(forStore: path))
            } catch {
                reportToStandardError("fhir-edge: \(error)")
                throw ExitCode(2)
            }
            defer { try? opened.close() }
            let client = FHIRClient(baseURL: upstream.url, transport: upstream.transport, authenticator: authenticator)
            let uploader = Uploader(store: opened, client: client, settings: settings)
            let drained: Bool
            do {
                try await opened.resumeAfterRestart()
                drained = try await uploader.drain(timeout: .seconds(max(1, within)))
            } catch {
                reportToStandardError("fhir-edge: \(error)")
                throw ExitCode(1)
            }
            let metrics = await uploader.metrics()
            print("accepted \(metrics.entriesAccepted), rejected \(metrics.entriesRejected) (to dead letters), kept for retry \(metrics.entriesKept), requests \(metrics.requests), pending \(metrics.outboxPending)")
            if !drained {
                reportToStandardError("fhir-edge: \(metrics.outboxPending) resource(s) still queued after \(within) s\(metrics.lastError.map { "; last error: " + $0 } ?? "")")
                throw ExitCode(1)
            }
        }
    }
}

/// The server a command talks to, how to authenticate, the transport and upload settings:
/// from a configuration file's `upstream:` section with flags laid over it, or from flags alone.
struct ResolvedUpstream {
    var url: String
    var auth: UpstreamAuthConfiguration
    var transport: CurlTransport
    var upload: UploadSettings
    /// Whether the settings came from a configuration file's `upstream:` section.
    var fromConfiguration: Bool
    /// The store of the configuration file, when one was given.
    var storePath: String?
}

/// The upstream server, how to authenticate to it and how resources travel, as flags.
struct UpstreamConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "The FHIR base URL, e.g. https://fhir.example.org/r4 (replaces upstream.url of --config).")
    var url: String?

    @Option(name: .long, help: "none, bearer, client-credentials or smart-backend-services (with --config, these flags replace upstream.auth).")
    var auth: String?

    @Option(name: .customLong("token-file"), help: "bearer: file holding the token.")
    var tokenFile: String?
    @Option(name: .customLong("token-env"), help: "bearer: environment variable holding the token.")
    var tokenEnv: String?

    @Option(name: .customLong("token-url"), help: "OAuth2 token endpoint (client-credentials, smart-backend-services).")
    var tokenURL: String?
    @Option(name: .customLong("client-id"), help: "OAuth2 client id.")
    var clientID: String?
    @Option(name: .customLong("client-secret-file"), help: "client-credentials: file holding the client secret.")
    var clientSecretFile: String?
    @Option(name: .customLong("client-secret-env"), help: "client-credentials: environment variable holding the client secret.")
    var clientSecretEnv: String?
    @Option(name: .customLong("client-authentication"), help: "client-credentials: client_secret_basic (default) or client_secret_post.")
    var clientAuthentication: String?
    @Option(name: .long, help: "OAuth2 scope (Azure AD v2: https://SERVICE/.default).")
    var scope: String?
    @Option(name: .long, help: "Azure AD v1: the resource (the FHIR service URL).")
    var resource: String?
    @Option(name: .customLong("private-key"), help: "smart-backend-services: PEM private key file (PKCS#8, SEC1 or PKCS#1).")
    var privateKey: String?
    @Option(name: .customLong("key-id"), help: "smart-backend-services: kid of the registered public key.")
    var keyID: String?
    @Option(name: .long, help: "smart-backend-services: RS384 or ES384 (default: from the key).")
    var algorithm: String?

    @Option(name: .customLong("ca-bundle"), help: "PEM CA certificates to trust instead of the system's.")
    var caBundle: String?
    @Option(name: .customLong("client-cert"), help: "PEM client certificate for mutual TLS.")
    var clientCertificate: String?
    @Option(name: .customLong("client-key"), help: "PEM key of the client certificate.")
    var clientKey: String?

    @Option(name: .customLong("bundle-type"), help: "How resources travel: batch (default) or transaction Bundles, or single (one request per resource).")
    var bundleType: String?
    @Option(name: .long, help: "The idempotency scheme: put (default) or conditional-create.")
    var idempotency: String?

    @Option(name: .long, help: "Seconds allowed for each request (default: upstream.timeout of --config, else 15).")
    var timeout: Int?

    /// Whether any flag names how to authenticate (they then replace the file's `auth:` as a whole).
    var namesAuthentication: Bool {
        auth != nil || tokenFile != nil || tokenEnv != nil || tokenURL != nil || clientID != nil || clientSecretFile != nil
            || clientSecretEnv != nil || clientAuthentication != nil || scope != nil || resource != nil || privateKey != nil
            || keyID != nil || algorithm != nil
    }

    /// Like `resolve`, but a configuration that cannot be used ends the command with its
    /// problems on standard error and exit status 2.
    func resolvingOrExiting(configurationFile: String?, dataDirectory: String? = nil) throws -> ResolvedUpstream {
        do {
            return try resolve(configurationFile: configurationFile, dataDirectory: dataDirectory)
        } catch let failure as UsageFailure {
            reportToStandardError("fhir-edge: \(failure)")
            throw ExitCode(2)
        }
    }

    /// The upstream from `configurationFile`'s `upstream:` section with the given flags laid
    /// over it, or from the flags alone. A file without the section needs `--url`.
    func resolve(configurationFile: String?, dataDirectory: String? = nil) throws -> ResolvedUpstream {
        guard let configurationFile else {
            guard let url else { throw ValidationError("Missing --url (or --config naming a configuration file with an upstream: section).") }
            return try resolveFlags(url: url)
        }
        let configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration.load(file: configurationFile, overrides: ConfigurationOverrides(dataDirectory: dataDirectory))
        } catch {
            throw UsageFailure("the configuration cannot be used:\n  " + error.problems.map(\.description).joined(separator: "\n  "))
        }
        guard let server = configuration.upstream else {
            guard let url else {
                throw UsageFailure(
                    "\(configurationFile) has no upstream: section, so it names no FHIR server; add one (url, and auth for a server "
                        + "that is not on loopback; see docs/upstream.md), or pass --url and the authentication flags")
            }
            var resolved = try resolveFlags(url: url)
            resolved.storePath = configuration.storePath
            return resolved
        }
        var resolved = try laidOver(server)
        resolved.storePath = configuration.storePath
        return resolved
    }

    /// The file's upstream with each given flag replacing what it names: `--url`, `--bundle-type`,
    /// `--idempotency`, `--timeout`, the authentication flags (together) and each TLS flag.
    private func laidOver(_ server: GatewayConfiguration.UpstreamServer) throws -> ResolvedUpstream {
        var upload = server.upload
        if let bundleType { upload.bundleType = try Self.bundleType(bundleType) }
        if let idempotency { upload.idempotency = try Self.idempotency(idempotency) }
        var auth = server.auth
        if namesAuthentication || caBundle != nil || clientCertificate != nil || clientKey != nil {
            let flags = try authConfiguration()
            if namesAuthentication { auth.mode = flags.mode }
            auth.tls.caBundle = flags.tls.caBundle ?? auth.tls.caBundle
            auth.tls.clientCertificate = flags.tls.clientCertificate ?? auth.tls.clientCertificate
            auth.tls.clientKey = flags.tls.clientKey ?? auth.tls.clientKey
        }
        var options = server.transport
        options.caBundlePath = auth.tls.caBundle
        options.clientCertificatePath = auth.tls.clientCertificate
        options.clientKeyPath = auth.tls.clientKey
        if let timeout {
            options.totalTimeout = .seconds(max(1, timeout))
            options.connectTimeout = .seconds(min(max(1, timeout), 10))
            // As the configuration loader does: a lease outlives the slowest request.
            upload.leaseDuration = max(upload.leaseDuration, options.totalTimeout * 3)
        }
        return ResolvedUpstream(
            url: url ?? server.url, auth: auth, transport: CurlTransport(options: options), upload: upload, fromConfiguration: true)
    }

    /// The upstream from flags only.
    private func resolveFlags(url: String) throws -> ResolvedUpstream {
        let configuration = try authConfiguration()
        var upload = UploadSettings()
        if let bundleType { upload.bundleType = try Self.bundleType(bundleType) }
        if let idempotency { upload.idempotency = try Self.idempotency(idempotency) }
        let seconds = max(1, timeout ?? 15)
        let options = configuration.transportOptions(CurlTransport.Options(connectTimeout: .seconds(min(seconds, 10)), totalTimeout: .seconds(seconds)))
        return ResolvedUpstream(url: url, auth: configuration, transport: CurlTransport(options: options), upload: upload, fromConfiguration: false)
    }

    private static func bundleType(_ text: String) throws -> UploadSettings.BundleType {
        guard let type = UploadSettings.BundleType(rawValue: text) else {
            throw ValidationError("--bundle-type must be one of: " + UploadSettings.BundleType.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return type
    }

    private static func idempotency(_ text: String) throws -> UploadSettings.Idempotency {
        guard let scheme = UploadSettings.Idempotency(rawValue: text) else {
            throw ValidationError("--idempotency must be put or conditional-create")
        }
        return scheme
    }

    /// The flags as the `auth:` and `tls:` configuration sections, validated by the same rules.
    func authConfiguration() throws -> UpstreamAuthConfiguration {
        var auth: [(String, JSONValue)] = [("mode", .string(self.auth ?? "none"))]
        func secret(_ file: String?, _ environment: String?) -> JSONValue? {
            if let file { return ["secretFile": .string(file)] }
            if let environment { return ["secretEnv": .string(environment)] }
            return nil
        }
        func add(_ key: String, _ value: JSONValue?) { if let value { auth.append((key, value)) } }
        add("token", secret(tokenFile, tokenEnv))
        add("tokenURL", tokenURL.map(JSONValue.string))
        add("clientID", clientID.map(JSONValue.string))
        add("clientSecret", secret(clientSecretFile, clientSecretEnv))
        add("clientAuthentication", clientAuthentication.map(JSONValue.string))
        add("scope", scope.map(JSONValue.string))
        add("resource", resource.map(JSONValue.string))
        add("privateKey", secret(privateKey, nil))
        add("keyID", keyID.map(JSONValue.string))
        add("algorithm", algorithm.map(JSONValue.string))
        var tls: [(String, JSONValue)] = []
        if let caBundle { tls.append(("caBundle", .string(caBundle))) }
        if let clientCertificate { tls.append(("clientCertificate", .string(clientCertificate))) }
        if let clientKey { tls.append(("clientKey", .string(clientKey))) }
        let (configuration, problems) = UpstreamAuthConfiguration.decode(
            auth: .object(JSONObject(auth)), tls: tls.isEmpty ? nil : .object(JSONObject(tls)), keyPath: "", baseDirectory: ".")
        if let configuration { return configuration }
        throw ValidationError(problems.map { Self.flagSpelling($0) }.joined(separator: "\n"))
    }

    /// Problems name configuration keys; on the command line the flags are what the operator typed.
    static func flagSpelling(_ problem: UpstreamConfigurationProblem) -> String {
        let flags: [String: String] = [
            "auth.mode": "--auth", "auth.token": "--token-file/--token-env", "auth.tokenURL": "--token-url",
            "auth.clientID": "--client-id", "auth.clientSecret": "--client-secret-file/--client-secret-env",
            "auth.clientAuthentication": "--client-authentication", "auth.scope": "--scope", "auth.resource": "--resource",
            "auth.privateKey": "--private-key", "auth.keyID": "--key-id", "auth.algorithm": "--algorithm", "tls": "--client-cert/--client-key",
        ]
        let name = flags[problem.keyPath] ?? problem.keyPath
        return name.isEmpty ? problem.message : "\(name): \(problem.message)"
    }

    /// Secret errors start with the key path of the secret (`auth.token: ...`); name the flag.
    static func flagSpelling(_ message: String) -> String {
        let flags = [
            "auth.token": "--token-file/--token-env", "auth.clientSecret": "--client-secret-file/--client-secret-env",
            "auth.privateKey": "--private-key",
        ]
        for (key, flag) in flags where message.hasPrefix(key + ":") || message.hasPrefix(key + " (") {
            return flag + message.dropFirst(key.count)
        }
        return message
    }
}

/// The findings of `upstream check`: each step's outcome, the server's capabilities and advice.
struct UpstreamCheck {
    enum Outcome: String { case ok, warning, failed }

    struct Finding {
        var step: String
        var outcome: Outcome
        var message: String
    }

    let url: String
    let mode: String
    let bundleType: UploadSettings.BundleType
    let idempotency: UploadSettings.Idempotency
    var findings: [Finding] = []
    var capabilities: JSONObject = JSONObject()

    init(url: String, mode: String, bundleType: UploadSettings.BundleType, idempotency: UploadSettings.Idempotency) {
        self.url = url
        self.mode = mode
        self.bundleType = bundleType
        self.idempotency = idempotency
    }

    var usable: Bool { !findings.contains { $0.outcome == .failed } }

    mutating func note(_ step: String, _ outcome: Outcome, _ message: String) {
        findings.append(Finding(step: step, outcome: outcome, message: message))
    }

    mutating func run(configuration: UpstreamAuthConfiguration, transport: CurlTransport) async {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            note("connect", .failed, "\(url) is not an http(s) URL")
            return
        }
        if lower.hasPrefix("http://"), !CurlTransport.isLoopback(url) {
            note("connect", configuration.mode == .none ? .warning : .failed,
                 "plain http to a host that is not loopback: health data and credentials would cross the network unencrypted; use https")
            if configuration.mode != .none { return }
        }
        let anonymous = FHIRClient(baseURL: url, transport: transport)
        var statement: JSONValue?
        do {
            let reply = try await anonymous.send(anonymous.request("GET", "metadata"))
            switch reply.status {
            case 200:
                statement = try? JSONValue(parsing: reply.body)
                if statement?["resourceType"]?.stringValue == "CapabilityStatement" {
                    note("connect", .ok, "GET \(anonymous.url("metadata")): 200, a CapabilityStatement")
                } else {
                    note("connect", .warning, "GET metadata answered 200 but not with a CapabilityStatement; is \(url) the FHIR base URL?")
                    statement = nil
                }
            case 401, 403:
                note("connect", .ok, "GET metadata: \(reply.status); the server wants credentials even for its CapabilityStatement")
            case 404:
                note("connect", .failed, "GET \(anonymous.url("metadata")): 404; the URL is not a FHIR base (it usually ends in /fhir, /r4 or the service name)")
                return
            default:
                note("connect", .failed, "GET \(anonymous.url("metadata")): HTTP \(reply.status)")
                return
            }
        } catch {
            var message = "\(error.message) (\(error.kind))"
            if error.kind == .tls { message += "; for a private CA pass --ca-bundle, for mutual TLS --client-cert and --client-key" }
            note("connect", .failed, message)
            return
        }

        let authenticator: any UpstreamAuthenticator
        do {
            authenticator = try configuration.makeAuthenticator(transport: transport)
        } catch {
            note("auth", .failed, UpstreamConnectionOptions.flagSpelling(error.message))
            return
        }
        if configuration.mode != .none {
            var probe = UpstreamRequest(method: "GET", url: url)
            do {
                try await authenticator.authorize(&probe)
                switch configuration.mode {
                case .bearer: note("auth", .ok, "bearer token read")
                default: note("auth", .ok, "access token obtained from the token endpoint")
                }
            } catch {
                note("auth", .failed, UpstreamConnectionOptions.flagSpelling("\(error)"))
                return
            }
        }
        let client = FHIRClient(baseURL: url, transport: transport, authenticator: authenticator)
        if statement == nil {
            if let reply = try? await client.send(client.request("GET", "metadata")), reply.status == 200 {
                statement = try? JSONValue(parsing: reply.body)
            }
        }
        let advertisedToken = statement.flatMap(Self.advertisedTokenURL)
        do {
            let reply = try await client.send(client.request("GET", "Observation?_count=1&_summary=count"))
            switch reply.status {
            case 200:
                note("authorized-read", .ok, "GET Observation?_count=1: 200")
            case 401:
                var advice = configuration.mode == .none ? "the server requires authentication" : "the server refused the credentials (401)"
                if let advertisedToken {
                    advice += "; its CapabilityStatement names the SMART token endpoint \(advertisedToken): use --auth smart-backend-services or client-credentials with --token-url \(advertisedToken)"
                }
                note("authorized-read", .failed, advice)
            case 403:
                note("authorized-read", .warning, "GET Observation: 403; the credentials may not allow reading Observations (identity lookup needs read access to Device and Patient)")
            default:
                note("authorized-read", .warning, "GET Observation?_count=1: HTTP \(reply.status)")
            }
        } catch {
            note("authorized-read", .failed, "\(error)")
        }
        if configuration.mode == .none, let advertisedToken, findings.allSatisfy({ $0.outcome != .failed }) {
            note("auth", .warning, "the server advertises SMART on FHIR (token endpoint \(advertisedToken)) but answered without credentials")
        }
        guard let statement else {
            note("capabilities", .warning, "no CapabilityStatement to read; capabilities unknown")
            return
        }
        assess(statement)
    }

    /// Compares the CapabilityStatement with the bundle type and idempotency scheme.
    mutating func assess(_ statement: JSONValue) {
        let version = statement["fhirVersion"]?.stringValue ?? "unknown"
        capabilities["fhirVersion"] = .string(version)
        if version.hasPrefix("4.0") {
            note("fhir-version", .ok, "FHIR \(version) (R4)")
        } else {
            note("fhir-version", .failed, "FHIR \(version): fhir-edge sends R4 (4.0.x) resources")
        }
        let rest = (statement["rest"]?.arrayValue ?? []).first { $0["mode"]?.stringValue == "server" } ?? statement["rest"]?.arrayValue?.first ?? .null
        let system = Set((rest["interaction"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue })
        let transaction = system.contains("transaction")
        let batch = system.contains("batch")
        capabilities["transaction"] = .bool(transaction)
        capabilities["batch"] = .bool(batch)
        switch (bundleType, transaction, batch) {
        case (.single, _, _):
            note("bundles", .ok, "single: one request per resource, no Bundles needed")
        case (.batch, _, true), (.transaction, true, _):
            note("bundles", .ok, "\(bundleType.rawValue) Bundles supported")
        case (.batch, true, false):
            note("bundles", .failed, "the server takes transaction but not batch Bundles; set bundle: transaction")
        case (.transaction, false, true):
            note("bundles", .failed, "the server takes batch but not transaction Bundles; set bundle: batch")
        default:
            note("bundles", .failed, "the server declares neither transaction nor batch; the uploader sends Bundles")
        }

        var resourceSummary = JSONObject()
        var usableSchemes: [String: (put: Bool, conditional: Bool)] = [:]
        for type in ["Observation", "Device", "Patient"] {
            guard let resource = (rest["resource"]?.arrayValue ?? []).first(where: { $0["type"]?.stringValue == type }) else {
                resourceSummary[type] = .null
                usableSchemes[type] = (false, false)
                continue
            }
            let interactions = Set((resource["interaction"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue })
            let updateCreate = interactions.contains("update") && resource["updateCreate"] == .bool(true)
            let conditionalCreate = interactions.contains("create") && resource["conditionalCreate"] == .bool(true)
            resourceSummary[type] = ["updateCreate": .bool(updateCreate), "conditionalCreate": .bool(conditionalCreate)]
            usableSchemes[type] = (updateCreate, conditionalCreate)
        }
        capabilities["resources"] = .object(resourceSummary)

        let observation = usableSchemes["Observation"] ?? (false, false)
        switch idempotency {
        case .put where observation.put:
            note("idempotency", .ok, "PUT with client-chosen ids creates Observations (updateCreate)")
        case .put:
            note("idempotency", .failed, observation.conditional
                 ? "the server does not create on PUT (updateCreate); set idempotency: conditional-create"
                 : "the server declares neither update-create nor conditional create for Observation; re-sent readings could be duplicated")
        case .conditionalCreate where observation.conditional:
            note("idempotency", .ok, "conditional create (ifNoneExist) supported for Observation")
        case .conditionalCreate:
            note("idempotency", .failed, observation.put
                 ? "the server does not support conditional create; set idempotency: put"
                 : "the server declares neither update-create nor conditional create for Observation; re-sent readings could be duplicated")
        }
        for type in ["Device", "Patient"] {
            let scheme = usableSchemes[type] ?? (false, false)
            if !scheme.put && !scheme.conditional {
                note("identity", .warning, "\(type): neither update-create nor conditional create; identity resolution Create cannot make \(type) resources, use Lookup")
            }
        }
    }

    static func advertisedTokenURL(_ statement: JSONValue) -> String? {
        for rest in statement["rest"]?.arrayValue ?? [] {
            for extensionValue in rest["security"]?["extension"]?.arrayValue ?? []
            where extensionValue["url"]?.stringValue == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
                for inner in extensionValue["extension"]?.arrayValue ?? [] where inner["url"]?.stringValue == "token" {
                    return inner["valueUri"]?.stringValue
                }
            }
        }
        return nil
    }

    var lines: [String] {
        var lines = ["upstream \(url) (auth \(mode), \(bundleType.rawValue) bundles, idempotency \(idempotency.rawValue))"]
        for finding in findings {
            let mark = switch finding.outcome {
            case .ok: "ok     "
            case .warning: "warning"
            case .failed: "FAILED "
            }
            lines.append("  \(mark) \(finding.step): \(finding.message)")
        }
        lines.append(usable ? "usable: yes" : "usable: no")
        return lines
    }

    var json: JSONValue {
        [
            "url": .string(url), "auth": .string(mode), "bundleType": .string(bundleType.rawValue), "idempotency": .string(idempotency.rawValue),
            "usable": .bool(usable), "capabilities": .object(capabilities),
            "findings": .array(findings.map { ["step": .string($0.step), "outcome": .string($0.outcome.rawValue), "message": .string($0.message)] }),
        ]
    }
}
