import JSONQuery
import YAML
package import Upstream

extension GatewayConfiguration {
    /// The `upstream:` section: the FHIR server resources are uploaded to, and how. Without it
    /// the gateway buffers everything locally.
    package struct UpstreamServer: Sendable, Equatable {
        /// The FHIR base URL.
        package var url: String
        package var upload: UploadSettings
        package var auth: UpstreamAuthConfiguration
        package var transport: CurlTransport.Options
        /// How often the journal's head goes upstream as a signed checkpoint AuditEvent
        /// (`upstream.journalWitness`, 1 h by default); nil: never (`off`).
        package var journalWitnessMilliseconds: Int64? = 3_600_000

        package init(url: String, upload: UploadSettings = UploadSettings(), auth: UpstreamAuthConfiguration = UpstreamAuthConfiguration(),
                    transport: CurlTransport.Options = CurlTransport.Options()) {
            self.url = url
            self.upload = upload
            self.auth = auth
            self.transport = auth.transportOptions(transport)
        }
    }
}

extension ConfigurationDecoder {
    static let upstreamKeys: Set<String> = [
        "url", "bundle", "idempotency", "batchSize", "linger", "timeout", "connectTimeout", "maxReplySize", "retryBase", "retryCap",
        "mergeSampledData", "auth", "tls", "journalWitness",
    ]

    static func decodeUpstream(
        _ node: YAMLNode?, urlOverride: String?, reader: inout YAMLNodeReader, baseDirectory: String
    ) -> GatewayConfiguration.UpstreamServer? {
        var section: [String: YAMLNode] = [:]
        if let node {
            guard let members = reader.mapping(node, at: "upstream", known: upstreamKeys) else { return nil }
            section = members
        }
        var url = urlOverride
        if url == nil, let node = section["url"] { url = reader.string(node, at: "upstream.url") }
        guard var url else {
            if node != nil, section["url"] == nil {
                reader.problem("upstream.url", node, "missing; set the FHIR server's base URL, e.g. https://fhir.example.org/r4")
            }
            return nil
        }
        while url.hasSuffix("/") { url.removeLast() }
        let loopback = CurlTransport.isLoopback(url)
        let where_ = urlOverride == nil ? section["url"] : nil
        if !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            reader.problem("upstream.url", where_, "expected an http:// or https:// URL, found \(url)")
        } else if url.hasPrefix("http://"), !loopback {
            reader.problem("upstream.url", where_, "plain http is allowed for loopback servers only; use https:// for \(url)")
        }

        var upload = UploadSettings()
        if let node = section["bundle"], let text = reader.string(node, at: "upstream.bundle") {
            if let type = UploadSettings.BundleType(rawValue: text) { upload.bundleType = type } else {
                reader.problem("upstream.bundle", node, "expected batch, transaction or single")
            }
        }
        if let node = section["idempotency"], let text = reader.string(node, at: "upstream.idempotency") {
            if let scheme = UploadSettings.Idempotency(rawValue: text) { upload.idempotency = scheme } else {
                reader.problem("upstream.idempotency", node, "expected put (MedTech: PUT by deterministic id) or conditional-create (HL7 PHD: POST with ifNoneExist)")
            }
        }
        if let node = section["batchSize"], let value = reader.integer(node, at: "upstream.batchSize", range: 1...10_000) {
            upload.batchSize = value
        }
        if let node = section["linger"], let ms = reader.duration(node, at: "upstream.linger") { upload.linger = .milliseconds(ms) }
        if let node = section["retryBase"], let ms = reader.duration(node, at: "upstream.retryBase") { upload.retry.base = .milliseconds(ms) }
        if let node = section["retryCap"], let ms = reader.duration(node, at: "upstream.retryCap") { upload.retry.cap = .milliseconds(ms) }
        if let node = section["mergeSampledData"], let value = reader.bool(node, at: "upstream.mergeSampledData") {
            upload.mergeSampledData = value
        }
        var transport = CurlTransport.Options()
        if let node = section["timeout"], let ms = reader.duration(node, at: "upstream.timeout") { transport.totalTimeout = .milliseconds(ms) }
        if let node = section["connectTimeout"], let ms = reader.duration(node, at: "upstream.connectTimeout") {
            transport.connectTimeout = .milliseconds(ms)
        }
        if let node = section["maxReplySize"],
           let bytes = reader.size(node, at: "upstream.maxReplySize", atMost: 1 << 32, "a reply is held in memory while it is read") {
            transport.maxReplyBytes = bytes
        }
        // A lease must outlive the slowest request, or a slow reply races a second lease.
        upload.leaseDuration = max(upload.leaseDuration, transport.totalTimeout * 3)

        let (auth, problems) = UpstreamAuthConfiguration.decode(
            auth: section["auth"].map(YAMLJSON.value), tls: section["tls"].map(YAMLJSON.value), keyPath: "upstream",
            baseDirectory: baseDirectory)
        for problem in problems {
            reader.problem(problem.keyPath, section[problem.keyPath.hasPrefix("upstream.tls") ? "tls" : "auth"], problem.message)
        }
        guard let auth else { return nil }
        if case .none = auth.mode, !loopback, auth.tls.clientCertificate == nil {
            reader.problem("upstream.auth", section["auth"] ?? where_,
                           "a server that is not on loopback needs authentication (bearer, client-credentials, smart-backend-services) or a client certificate (tls)")
        }
        var server = GatewayConfiguration.UpstreamServer(url: url, upload: upload, auth: auth, transport: transport)
        if let node = section["journalWitness"] {
            if case .scalar(let scalar) = node, scalar.string == "off" {
                server.journalWitnessMilliseconds = nil
            } else if let ms = reader.duration(node, at: "upstream.journalWitness") {
                if ms < 60_000 {
                    reader.problem("upstream.journalWitness", node, "at least 1m, or off: each witness is one AuditEvent on the server")
                } else {
                    server.journalWitnessMilliseconds = ms
                }
            }
        }
        return server
    }
}

/// YAML as the JSON the upstream authentication decoder reads: scalars stay text.
enum YAMLJSON {
    static func value(_ node: YAMLNode) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            return .string(scalar.string)
        case .sequence(let sequence):
            return .array(sequence.map(value))
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, member) in mapping {
                if case .scalar(let name) = key { object[name.string] = value(member) }
            }
            return .object(object)
        }
    }
}
