import EdgeSystem
package import EdgeCore
package import Store
import FoundationEssentials

/// The daemon's typed configuration, validated as a whole when it is loaded
/// (`GatewayConfiguration.load(file:)`); every path in it is absolute or relative to the
/// working directory, already resolved against the configuration file's folder.
package struct GatewayConfiguration: Sendable {
    /// The file it was read from, for messages and the journal.
    package var file: String
    /// Holds the store (`fhir-edge.sqlite` unless `store.path` says otherwise).
    package var dataDirectory: String
    /// Set when `store.path` names the database file explicitly.
    package var explicitStorePath: String?
    package var http: HTTP
    package var store: StoreBounds
    package var profiles: Profiles
    package var clients: [Client]
    package var mapping: Mapping
    /// Loopback-only, token-free ingest for the `demo-vitals` profile.
    package var demo: Bool
    /// What loads but weakens the box (plain HTTP beyond loopback): `config check` prints these,
    /// the daemon logs them.
    package var warnings: [ConfigurationProblem] = []
    /// The FHIR server resources are uploaded to; nil: buffer only.
    package var upstream: UpstreamServer?
    /// Modbus devices to poll (`modbus:`); empty: none.
    package var modbus = ModbusSection()
    /// The Bluetooth LE controller and devices to read; nil: no Bluetooth.
    package var bluetooth: Bluetooth? = nil
    /// The MQTT broker and subscriptions (`mqtt:`); nil: no MQTT.
    package var mqtt: MQTTSection? = nil
    /// The MLLP listener for HL7 v2 PCD-01 messages (`hl7:`); nil: none.
    package var hl7: HL7Section? = nil

    /// Where the store's key-encryption key comes from (`store.encryption`); nil: the key file
    /// `fhir-edge.key` beside the store, created on its first start (`storeKeySource`).
    package var storeKey: StoreKeySource? = nil

    /// The configured key source, or the key file beside the store.
    package var storeKeySource: StoreKeySource {
        storeKey ?? .file(GatewayConfiguration.defaultKeyFile(forStore: storePath))
    }

    /// `fhir-edge.key` in the store's folder: the key a store gets when none is configured. It
    /// keeps copies of the database alone unreadable, not a stolen disk (docs/security.md).
    package static func defaultKeyFile(forStore storePath: String) -> String {
        FilePaths.join(FilePaths.directory(of: storePath), defaultKeyFileName)
    }

    package static let defaultKeyFileName = "fhir-edge.key"

    /// The SQLite file of the store.
    package var storePath: String {
        explicitStorePath ?? GatewayConfiguration.storePath(inDataDirectory: dataDirectory)
    }

    /// Where a data directory keeps its store; `queue stats --data-dir` and friends use the same rule.
    package static func storePath(inDataDirectory directory: String) -> String {
        directory.hasSuffix("/") ? directory + storeFileName : directory + "/" + storeFileName
    }

    package static let storeFileName = "fhir-edge.sqlite"

    package struct HTTP: Sendable, Equatable {
        package var listen: ListenAddress
        /// Largest request body accepted; larger ones get 413.
        package var maxBodyBytes: Int
        /// A connection must send a complete request head within this of opening or of its
        /// previous response (slow headers, idle keep-alive), else it is closed.
        package var idleTimeoutMilliseconds: Int64
        /// A request's body must arrive within this of its head.
        package var bodyTimeoutMilliseconds: Int64
        /// Open connections at most; over it the longest-waiting idle one is closed.
        package var maxConnections: Int
        /// Request body bytes held by all requests at once; past it ingest answers 503.
        package var maxInFlightBytes: Int
        /// TLS for the local API; required to listen beyond loopback unless `allowPlaintext`.
        package var tls: TLS?
        /// Listening beyond loopback without TLS, accepted only when said explicitly.
        package var allowPlaintext = false

        package init(
            listen: ListenAddress = .default, maxBodyBytes: Int = 4 << 20, idleTimeoutMilliseconds: Int64 = 30_000,
            bodyTimeoutMilliseconds: Int64 = 30_000, maxConnections: Int = 512, maxInFlightBytes: Int = 64 << 20
        ) {
            self.listen = listen
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
            self.bodyTimeoutMilliseconds = bodyTimeoutMilliseconds
            self.maxConnections = maxConnections
            self.maxInFlightBytes = maxInFlightBytes
        }
    }

    /// `http.tls`: PEM files; with `clientCA`, clients must present a certificate it signed.
    package struct TLS: Sendable, Equatable {
        package var certificatePath: String
        package var keyPath: String
        package var clientCAPath: String?
        package init(certificatePath: String, keyPath: String, clientCAPath: String? = nil) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.clientCAPath = clientCAPath
        }
    }

    package struct StoreBounds: Sendable, Equatable {
        package enum EvictionPolicy: String, Sendable, Equatable, CaseIterable {
            /// Unsynced data is never evicted: intake answers 503 at the high-water mark.
            case refuse
            /// The oldest unsynced rows are evicted to make room; each eviction is journaled.
            case evictOldestUnsynced = "evict-oldest-unsynced"
        }

        /// Bound on stored payload, resource and dead-letter bytes.
        package var maxBytes: Int64
        /// Intake is refused (503) from this many stored bytes on; the rest of `maxBytes` is
        /// headroom for the resources that mapping the inbox still produces.
        package var highWaterBytes: Int64
        /// Unsynced data older than this is an alarm (refuse) or evicted (evict-oldest-unsynced).
        package var maxAgeMilliseconds: Int64?
        package var evictionPolicy: EvictionPolicy
        /// How long synced data is kept.
        package var syncedRetentionMilliseconds: Int64
        /// The journal's share of `maxBytes` (`store.journal.maxBytes`, 5 % by default): retention
        /// removes its oldest entries beyond it, and intake refuses data before data and journal
        /// together would pass `maxBytes`.
        package var journalMaxBytes: Int64
        /// Journal entries older than this are removed (`store.journal.retain`); nil: kept while they fit.
        package var journalRetainMilliseconds: Int64?

        /// Where intake refuses: the high-water mark, lowered when the journal's share would not fit above it.
        package var dataLimitBytes: Int64 { min(highWaterBytes, maxBytes - journalMaxBytes) }

        package init(
            maxBytes: Int64 = 1 << 30, highWaterBytes: Int64? = nil, maxAgeMilliseconds: Int64? = nil,
            evictionPolicy: EvictionPolicy = .refuse, syncedRetentionMilliseconds: Int64 = 7 * 86_400_000
        ) {
            self.maxBytes = maxBytes
            self.highWaterBytes = highWaterBytes ?? maxBytes / 10 * 9
            self.maxAgeMilliseconds = maxAgeMilliseconds
            self.evictionPolicy = evictionPolicy
            self.syncedRetentionMilliseconds = syncedRetentionMilliseconds
            self.journalMaxBytes = maxBytes / 20
        }
    }

    package struct Profiles: Sendable, Equatable {
        package var directory: String
        /// Which clients may post to which profile; a profile without an entry accepts no client.
        package var access: [String: Access]
        package init(directory: String, access: [String: Access] = [:]) {
            self.directory = directory
            self.access = access
        }
    }

    package enum Access: Sendable, Equatable {
        /// Every configured client (`"*"`).
        case anyClient
        case clients(Set<String>)

        package func allows(_ clientID: String) -> Bool {
            switch self {
            case .anyClient: return true
            case .clients(let ids): return ids.contains(clientID)
            }
        }
    }

    package struct Client: Sendable, Equatable {
        package var id: String
        /// SHA-256 of the bearer token; the token itself is never stored.
        package var tokenHash: [UInt8]
        /// What the client may do beyond ingest (which `profiles.access` decides).
        package var roles: Set<Role>
        package init(id: String, tokenHash: [UInt8], roles: Set<Role> = []) {
            self.id = id
            self.tokenHash = tokenHash
            self.roles = roles
        }
    }

    /// `clients.<id>.roles`: who may see, operate and audit the gateway.
    package enum Role: String, Sendable, Hashable, CaseIterable {
        /// Status, metrics, the status page.
        case viewer
        /// A viewer who may also replay and discard dead letters.
        case `operator`
        /// Reads, verifies and exports the journal.
        case auditor
        /// Everything.
        case admin
    }

    package struct Mapping: Sendable, Equatable {
        /// Inbox messages claimed and committed per mapping transaction.
        package var batchSize: Int
        /// How long the stage waits after a batch that was not full before it claims again, so
        /// readings that arrive one by one share a transaction (0: claim at once).
        package var linger: Duration
        package init(batchSize: Int = 500, linger: Duration = .milliseconds(100)) {
            self.batchSize = batchSize
            self.linger = linger
        }
    }

    package init(
        file: String, dataDirectory: String, explicitStorePath: String? = nil, http: HTTP = HTTP(),
        store: StoreBounds = StoreBounds(), profiles: Profiles, clients: [Client] = [],
        mapping: Mapping = Mapping(), demo: Bool = false, upstream: UpstreamServer? = nil
    ) {
        self.file = file
        self.dataDirectory = dataDirectory
        self.explicitStorePath = explicitStorePath
        self.http = http
        self.store = store
        self.profiles = profiles
        self.clients = clients
        self.mapping = mapping
        self.demo = demo
        self.upstream = upstream
    }
}
