import EdgeCore
import EdgeSystem
import FoundationEssentials
import Store
import YAML

/// Command-line settings that replace those of the file (`run --data-dir --listen`).
package struct ConfigurationOverrides: Sendable, Equatable {
    package var dataDirectory: String?
    package var listen: String?
    /// `demo --upstream URL`: the upstream base URL (no authentication, so loopback only).
    package var upstream: String?
    /// `demo --mqtt URL`: subscribe to `fhir-edge/<profile>/#` on this broker (replaces `mqtt:`).
    package var mqtt: String?
    /// `demo --mllp-listen HOST:PORT`: an MLLP listener (hl7.listen) for the bundled PCD-01 profile.
    package var mllpListen: String?

    package init(dataDirectory: String? = nil, listen: String? = nil, upstream: String? = nil, mqtt: String? = nil, mllpListen: String? = nil) {
        self.dataDirectory = dataDirectory
        self.listen = listen
        self.upstream = upstream
        self.mqtt = mqtt
        self.mllpListen = mllpListen
    }
}

extension GatewayConfiguration {
    /// Reads and validates a YAML configuration file; relative paths in it are resolved against
    /// the file's folder. Throws every problem found at once.
    package static func load(file: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) throws(ConfigurationError) -> GatewayConfiguration {
        let (configuration, problems, _) = loadCollecting(file: file, overrides: overrides)
        if let configuration, problems.isEmpty { return configuration }
        throw ConfigurationError(problems: problems)
    }

    /// Like `load`, but also hands back the profiles folder when the file names one, so that
    /// `config check` can report template problems next to the file's own.
    static func loadCollecting(
        file: String, overrides: ConfigurationOverrides
    ) -> (GatewayConfiguration?, [ConfigurationProblem], profilesDirectory: String?) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            return (nil, [ConfigurationProblem(file: file, keyPath: "", message: "cannot read the file; check the path and its permissions")], nil)
        }
        return decodeCollecting(yaml: text, file: file, baseDirectory: FilePaths.directory(of: file), overrides: overrides)
    }

    /// Decodes configuration text. `baseDirectory` resolves relative paths.
    package static func decode(
        yaml: String, file: String, baseDirectory: String, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) throws(ConfigurationError) -> GatewayConfiguration {
        let (configuration, problems, _) = decodeCollecting(yaml: yaml, file: file, baseDirectory: baseDirectory, overrides: overrides)
        if let configuration, problems.isEmpty { return configuration }
        throw ConfigurationError(problems: problems)
    }

    static func decodeCollecting(
        yaml: String, file: String, baseDirectory: String, overrides: ConfigurationOverrides
    ) -> (GatewayConfiguration?, [ConfigurationProblem], profilesDirectory: String?) {
        var reader = YAMLNodeReader(file: file)
        let root: YAMLNode?
        do {
            root = try YAMLLoader.load(yaml)
        } catch {
            return (nil, [ConfigurationProblem(file: file, yaml: error)], nil)
        }
        guard let root else {
            return (nil, [ConfigurationProblem(file: file, keyPath: "", message: "the file is empty; it needs at least dataDir and profiles.directory")], nil)
        }
        let configuration = ConfigurationDecoder.decode(root, reader: &reader, file: file, baseDirectory: baseDirectory, overrides: overrides)
        return (configuration, reader.problems, reader.profilesDirectory)
    }
}

/// The schema of the configuration file, as code: each section knows its keys.
enum ConfigurationDecoder {
    static func decode(
        _ root: YAMLNode, reader: inout YAMLNodeReader, file: String, baseDirectory: String, overrides: ConfigurationOverrides
    ) -> GatewayConfiguration? {
        let keys: Set<String> = ["dataDir", "demo", "http", "store", "profiles", "clients", "mapping", "upstream", "bluetooth", "modbus", "mqtt", "hl7"]
        guard let members = reader.mapping(root, at: "", known: keys) else { return nil }

        var dataDirectory: String?
        if let node = members["dataDir"], let text = reader.string(node, at: "dataDir") {
            dataDirectory = FilePaths.resolve(text, against: baseDirectory)
        }
        if let override = overrides.dataDirectory { dataDirectory = override }
        if dataDirectory == nil, members["dataDir"] == nil {
            reader.problem("dataDir", nil, "missing; name the folder that holds the store (or pass --data-dir)")
        }

        var demo = false
        if let node = members["demo"], let value = reader.bool(node, at: "demo") { demo = value }

        var http = GatewayConfiguration.HTTP()
        if let node = members["http"] { http = decodeHTTP(node, reader: &reader, baseDirectory: baseDirectory) }
        if let listen = overrides.listen {
            if let address = ListenAddress(parsing: listen) {
                http.listen = address
            } else {
                reader.problem("http.listen", nil, "--listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:8088")
            }
        }
        if demo, !http.listen.isLoopback {
            reader.problem("demo", members["demo"], "demo mode takes data without tokens, so it listens on loopback only; http.listen is \(http.listen)")
        }
        var warnings: [ConfigurationProblem] = []
        if !demo, !http.listen.isLoopback, http.tls == nil {
            if http.allowPlaintext {
                warnings.append(ConfigurationProblem(file: file, keyPath: "http.allowPlaintext",
                    message: "the local API listens on \(http.listen) without TLS: tokens and patient data cross the network in clear"))
            } else {
                reader.problem("http.listen", members["http"],
                    "\(http.listen) is reachable beyond this machine, and without TLS tokens and patient data would cross the network in clear; "
                    + "set http.tls (certificate, key), or http.allowPlaintext: true to accept that")
            }
        }

        var storePath: String?
        var storeKey: StoreKeySource?
        var store = GatewayConfiguration.StoreBounds()
        if let node = members["store"] {
            (store, storePath, storeKey) = decodeStore(node, reader: &reader, baseDirectory: baseDirectory)
        }
        if store.highWaterBytes > store.dataLimitBytes {
            warnings.append(ConfigurationProblem(file: file, keyPath: "store.highWaterMark",
                message: "the high-water mark (\(store.highWaterBytes) bytes) and the journal's share (store.journal.maxBytes, \(store.journalMaxBytes) bytes) exceed store.maxBytes; intake refuses from \(store.dataLimitBytes) bytes"))
        }

        var clients: [GatewayConfiguration.Client] = []
        if let node = members["clients"] { clients = decodeClients(node, reader: &reader) }

        var profiles: GatewayConfiguration.Profiles?
        if let node = members["profiles"] {
            profiles = decodeProfiles(node, reader: &reader, baseDirectory: baseDirectory, clients: Set(clients.map(\.id)))
        } else {
            reader.problem("profiles", nil, "missing; set profiles.directory to the folder of device profiles")
        }

        var mapping = GatewayConfiguration.Mapping()
        if let node = members["mapping"], let section = reader.mapping(node, at: "mapping", known: ["batchSize", "linger"]) {
            if let node = section["batchSize"], let value = reader.integer(node, at: "mapping.batchSize", range: 1...100_000) {
                mapping.batchSize = value
            }
            if let node = section["linger"], case .scalar(let scalar) = node, DurationText.parseMilliseconds(scalar.string) == 0 {
                mapping.linger = .zero
            } else if let node = section["linger"], let ms = reader.duration(node, at: "mapping.linger") {
                if ms > 10_000 {
                    reader.problem("mapping.linger", node, "at most 10s: readings wait this long to be mapped")
                } else {
                    mapping.linger = .milliseconds(ms)
                }
            }
        }

        let upstream = decodeUpstream(members["upstream"], urlOverride: overrides.upstream, reader: &reader, baseDirectory: baseDirectory)
        let bluetooth = decodeBluetooth(members["bluetooth"], reader: &reader)
        let modbus = members["modbus"].map { decodeModbus($0, reader: &reader) } ?? ModbusSection()
        let mqtt = decodeMQTT(members["mqtt"], urlOverride: overrides.mqtt, reader: &reader, baseDirectory: baseDirectory)
        var hl7 = members["hl7"].flatMap { decodeHL7($0, reader: &reader, baseDirectory: baseDirectory) }
        if let listen = overrides.mllpListen {
            if let address = ListenAddress(parsing: listen), address.port > 0 {
                if hl7 == nil { hl7 = HL7Section(listen: address) }
                hl7?.listen = address
            } else {
                reader.problem("hl7.listen", nil, "--mllp-listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:2575")
            }
        }
        if demo, let hl7, !hl7.listen.isLoopback {
            reader.problem("demo", members["demo"], "demo mode takes data from anyone who can connect, so MLLP listens on loopback only; hl7.listen is \(hl7.listen)")
        }

        guard let dataDirectory, let profiles else { return nil }
        var configuration = GatewayConfiguration(
            file: file, dataDirectory: dataDirectory, explicitStorePath: storePath, http: http, store: store,
            profiles: profiles, clients: clients, mapping: mapping, demo: demo, upstream: upstream)
        configuration.bluetooth = bluetooth
        configuration.modbus = modbus
        configuration.mqtt = mqtt
        configuration.hl7 = hl7
        configuration.warnings = warnings
        configuration.storeKey = storeKey
        return configuration
    }

    static func decodeHTTP(_ node: YAMLNode, reader: inout YAMLNodeReader, baseDirectory: String) -> GatewayConfiguration.HTTP {
        var http = GatewayConfiguration.HTTP()
        let keys: Set<String> = ["listen", "maxBodySize", "idleTimeout", "bodyTimeout", "maxConnections", "maxInFlightBytes", "tls", "allowPlaintext"]
        guard let section = reader.mapping(node, at: "http", known: keys) else { return http }
        if let node = section["listen"], let text = reader.string(node, at: "http.listen") {
            if let address = ListenAddress(parsing: text) {
                http.listen = address
            } else {
                reader.problem("http.listen", node, "expected HOST:PORT, e.g. 127.0.0.1:8088")
            }
        }
        if let node = section["maxBodySize"],
           let bytes = reader.size(node, at: "http.maxBodySize", atMost: 1 << 30, "a request body is held in memory until it is committed") {
            http.maxBodyBytes = bytes
        }
        if let node = section["idleTimeout"], let ms = reader.duration(node, at: "http.idleTimeout") { http.idleTimeoutMilliseconds = ms }
        if let node = section["bodyTimeout"], let ms = reader.duration(node, at: "http.bodyTimeout") { http.bodyTimeoutMilliseconds = ms }
        if let node = section["maxConnections"], let count = reader.integer(node, at: "http.maxConnections", range: 1...65_536) {
            http.maxConnections = count
        }
        if let node = section["maxInFlightBytes"],
           let bytes = reader.size(node, at: "http.maxInFlightBytes", atMost: 1 << 32, "these bytes are held in memory") {
            http.maxInFlightBytes = bytes
        }
        if let node = section["allowPlaintext"], let value = reader.bool(node, at: "http.allowPlaintext") { http.allowPlaintext = value }
        if let node = section["tls"], let tls = reader.mapping(node, at: "http.tls", known: ["certificate", "key", "clientCA"]) {
            func path(_ key: String) -> String? {
                guard let node = tls[key], let text = reader.string(node, at: "http.tls." + key) else { return nil }
                return FilePaths.resolve(text, against: baseDirectory)
            }
            let certificate = path("certificate"), key = path("key")
            if certificate == nil { reader.problem("http.tls.certificate", node, "missing; the PEM certificate (chain) the API presents") }
            if key == nil { reader.problem("http.tls.key", node, "missing; the PEM private key of the certificate") }
            if let certificate, let key {
                http.tls = GatewayConfiguration.TLS(certificatePath: certificate, keyPath: key, clientCAPath: path("clientCA"))
            }
        }
        if http.maxInFlightBytes < http.maxBodyBytes {
            reader.problem("http.maxInFlightBytes", section["maxInFlightBytes"] ?? section["maxBodySize"],
                           "must be at least http.maxBodySize (\(http.maxBodyBytes) bytes), or no full-size request could ever be taken")
        }
        return http
    }

    static func decodeStore(
        _ node: YAMLNode, reader: inout YAMLNodeReader, baseDirectory: String
    ) -> (GatewayConfiguration.StoreBounds, String?, StoreKeySource?) {
        var bounds = GatewayConfiguration.StoreBounds()
        let keys: Set<String> = ["path", "maxBytes", "highWaterMark", "maxAge", "evictionPolicy", "retainSynced", "encryption", "journal"]
        guard let section = reader.mapping(node, at: "store", known: keys) else { return (bounds, nil, nil) }
        var path: String?
        if let node = section["path"], let text = reader.string(node, at: "store.path") {
            path = FilePaths.resolve(text, against: baseDirectory)
        }
        if let node = section["maxBytes"], let bytes = reader.size(node, at: "store.maxBytes") {
            bounds.maxBytes = bytes
        }
        bounds.highWaterBytes = bounds.maxBytes / 10 * 9
        bounds.journalMaxBytes = bounds.maxBytes / 20
        if let node = section["highWaterMark"], case .scalar(let scalar) = node {
            let text = scalar.string.trimmingSpaces
            if text.hasSuffix("%"), let percent = Int(text.dropLast()), (1...100).contains(percent) {
                bounds.highWaterBytes = bounds.maxBytes / 100 * Int64(percent)
            } else if let bytes = ByteSize.parse(text), bytes > 0 {
                if bytes > bounds.maxBytes {
                    reader.problem("store.highWaterMark", node, "must not exceed store.maxBytes")
                } else {
                    bounds.highWaterBytes = bytes
                }
            } else {
                reader.problem("store.highWaterMark", node, "expected a percentage of maxBytes like 90% or a size like 450MiB")
            }
        } else if let node = section["highWaterMark"] {
            reader.problem("store.highWaterMark", node, "expected a percentage of maxBytes like 90% or a size like 450MiB")
        }
        if let node = section["maxAge"], let milliseconds = reader.duration(node, at: "store.maxAge") {
            bounds.maxAgeMilliseconds = milliseconds
        }
        if let node = section["retainSynced"], let milliseconds = reader.duration(node, at: "store.retainSynced") {
            bounds.syncedRetentionMilliseconds = milliseconds
        }
        if let node = section["evictionPolicy"], let text = reader.string(node, at: "store.evictionPolicy") {
            if let policy = GatewayConfiguration.StoreBounds.EvictionPolicy(rawValue: text) {
                bounds.evictionPolicy = policy
            } else {
                reader.problem("store.evictionPolicy", node, "expected refuse or evict-oldest-unsynced")
            }
        }
        if let node = section["journal"], let journal = reader.mapping(node, at: "store.journal", known: ["maxBytes", "retain"]) {
            if let node = journal["maxBytes"], case .scalar(let scalar) = node {
                let text = scalar.string.trimmingSpaces
                if text.hasSuffix("%"), let percent = Int(text.dropLast()), (1...50).contains(percent) {
                    bounds.journalMaxBytes = bounds.maxBytes * Int64(percent) / 100
                } else if let bytes = ByteSize.parse(text), bytes > 0, bytes <= bounds.maxBytes / 2 {
                    bounds.journalMaxBytes = bytes
                } else {
                    reader.problem("store.journal.maxBytes", node, "expected a share of store.maxBytes from 1% to 50% or a size up to half of it")
                }
            } else if let node = journal["maxBytes"] {
                reader.problem("store.journal.maxBytes", node, "expected a share of store.maxBytes like 5% or a size like 50MiB")
            }
            if let node = journal["retain"], let milliseconds = reader.duration(node, at: "store.journal.retain") {
                bounds.journalRetainMilliseconds = milliseconds
            }
        }
        let key = section["encryption"].flatMap { decodeStoreEncryption($0, reader: &reader, baseDirectory: baseDirectory) }
        return (bounds, path, key)
    }

    /// `store.encryption`: exactly one of `keyFile`, `keyEnv`, `keyCredential`.
    static func decodeStoreEncryption(_ section: YAMLNode, reader: inout YAMLNodeReader, baseDirectory: String) -> StoreKeySource? {
        guard let members = reader.mapping(section, at: "store.encryption", known: ["keyFile", "keyEnv", "keyCredential"]) else { return nil }
        var sources: [StoreKeySource] = []
        if let node = members["keyFile"], let text = reader.string(node, at: "store.encryption.keyFile") {
            sources.append(.file(FilePaths.resolve(text, against: baseDirectory)))
        }
        if let node = members["keyEnv"], let text = reader.string(node, at: "store.encryption.keyEnv") {
            sources.append(.environment(text))
        }
        if let node = members["keyCredential"], let text = reader.string(node, at: "store.encryption.keyCredential") {
            if text.contains("/") {
                reader.problem("store.encryption.keyCredential", node, "a credential name, not a path (it is read from $CREDENTIALS_DIRECTORY)")
            } else {
                sources.append(.credential(text))
            }
        }
        guard sources.count == 1 else {
            reader.problem("store.encryption", section, "give exactly one of keyFile, keyEnv or keyCredential")
            return nil
        }
        return sources[0]
    }

    static func decodeClients(_ node: YAMLNode, reader: inout YAMLNodeReader) -> [GatewayConfiguration.Client] {
        guard let named = reader.namedMapping(node, at: "clients") else { return [] }
        var clients: [GatewayConfiguration.Client] = []
        for (id, value) in named {
            let path = "clients." + id
            guard let section = reader.mapping(value, at: path, known: ["tokenSHA256", "roles"]) else { continue }
            guard let hashNode = section["tokenSHA256"] else {
                reader.problem(path + ".tokenSHA256", value, "missing; `fhir-edge config hash-token` prints it for a token")
                continue
            }
            guard let text = reader.string(hashNode, at: path + ".tokenSHA256") else { continue }
            guard let hash = Hex.bytes(text), hash.count == 32 else {
                reader.problem(path + ".tokenSHA256", hashNode, "expected 64 hexadecimal digits (the SHA-256 of the token, never the token)")
                continue
            }
            var roles: Set<GatewayConfiguration.Role> = []
            if let node = section["roles"] {
                if case .sequence(let items) = node {
                    for item in items {
                        guard let name = reader.string(item, at: path + ".roles") else { continue }
                        if let role = GatewayConfiguration.Role(rawValue: name) {
                            roles.insert(role)
                        } else {
                            reader.problem(path + ".roles", item, "unknown role '\(name)'; use viewer, operator, auditor or admin")
                        }
                    }
                } else {
                    reader.problem(path + ".roles", node, "expected a list such as [viewer, operator]")
                }
            }
            clients.append(GatewayConfiguration.Client(id: id, tokenHash: hash, roles: roles))
        }
        return clients
    }

    static func decodeProfiles(
        _ node: YAMLNode, reader: inout YAMLNodeReader, baseDirectory: String, clients: Set<String>
    ) -> GatewayConfiguration.Profiles? {
        guard let section = reader.mapping(node, at: "profiles", known: ["directory", "access"]) else { return nil }
        var directory: String?
        if let node = section["directory"], let text = reader.string(node, at: "profiles.directory") {
            directory = FilePaths.resolve(text, against: baseDirectory)
        } else if section["directory"] == nil {
            reader.problem("profiles.directory", node, "missing; name the folder that holds one folder per device profile")
        }
        var access: [String: GatewayConfiguration.Access] = [:]
        if let node = section["access"], let named = reader.namedMapping(node, at: "profiles.access") {
            for (profile, value) in named {
                let path = "profiles.access." + profile
                if case .scalar(let scalar) = value, scalar.string == "*" {
                    access[profile] = .anyClient
                    continue
                }
                guard let items = reader.sequence(value, at: path) else { continue }
                var ids = Set<String>()
                for (index, item) in items.enumerated() {
                    guard let id = reader.string(item, at: "\(path)[\(index)]") else { continue }
                    if clients.contains(id) {
                        ids.insert(id)
                    } else {
                        reader.problem("\(path)[\(index)]", item, "no client \(id) under clients")
                    }
                }
                access[profile] = .clients(ids)
            }
        }
        guard let directory else { return nil }
        reader.profilesDirectory = directory
        return GatewayConfiguration.Profiles(directory: directory, access: access)
    }
}
