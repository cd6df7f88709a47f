package import EdgeCore
import EdgeSystem
import Audit
import FoundationEssentials
import Hummingbird
import HummingbirdCore
import JSONQuery
package import Logging
import ServiceLifecycle
import UnixSignals
import Upstream
import MLLP
package import Store

/// The running gateway: the store, the local HTTP API, the mapping stage, retention and the
/// access journal, as Services in one ServiceGroup.
///
/// Shutdown order (SIGTERM/SIGINT): the HTTP server stops taking requests first, then the
/// mapping stage finishes the batch in hand, then retention and the access journal flush;
/// the store closes last, after the group has returned.
package final class Gateway: Sendable {
    package let configuration: GatewayConfiguration
    package let catalog: DeviceProfileCatalog
    let store: Store
    let monitor: GatewayMonitor
    let accessJournal: AccessJournal
    let mappingStage: MappingStage
    let api: LocalAPI
    let now: @Sendable () -> Timestamp
    let logger: Logger
    let uploaderSlot: UploaderSlot
    let acquisitionHealth: AcquisitionHealth
    /// Where every source (HTTP ingest, Modbus pollers, BLE sessions, ...) commits its device messages.
    let intakeSink: IntakeSink
    /// The MLLP listener's counters (zero without `hl7:`), in `/metrics`.
    let mllpMetrics: MLLPMetrics
    private let group = Locked<ServiceGroup?>(nil)

    /// Opens (creating when needed) the store in the configured data directory, encrypted with
    /// the configured key (`store.encryption`; by default `fhir-edge.key` beside the store).
    /// - Parameters:
    ///   - now: the clock for receive times, journal times and `issued`.
    ///   - sessionRandom: 32 unpredictable bytes per call, for the status page's session ids and
    ///     CSRF tokens (default: the system's CSPRNG).
    package init(
        configuration: GatewayConfiguration, catalog: DeviceProfileCatalog,
        now: @escaping @Sendable () -> Timestamp = Gateway.systemClock,
        logger: Logger = Logger(label: "fhir-edge", factory: { _ in SwiftLogNoOpLogHandler() }),
        sessionRandom: (@Sendable () -> [UInt8])? = nil
    ) throws(StoreError) {
        self.configuration = configuration
        self.catalog = catalog
        self.now = now
        self.logger = logger
        let directory = FilePaths.directory(of: configuration.storePath)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encryption = try configuration.storeEncryption(create: true)
        if configuration.storeKey == nil, !configuration.demo {
            logger.warning("Store key kept beside the store", metadata: [
                "edge.key": "\(configuration.storeKeySource)",
                "edge.advice": "configure store.encryption so that a stolen disk does not hold the key (docs/security.md)",
            ])
        }
        let store = try Store(path: configuration.storePath, policy: Self.policy(configuration.store), chain: AuditChain(), now: now,
                              encryption: encryption)
        self.store = store
        let monitor = GatewayMonitor(startedAt: now())
        self.monitor = monitor
        self.accessJournal = AccessJournal(store: store, logger: logger, now: now)
        let uploaderSlot = UploaderSlot()
        self.uploaderSlot = uploaderSlot
        // Mapping commits wake the uploader at once instead of at its next poll.
        let mappingStage = MappingStage(
            store: store, catalog: catalog, monitor: monitor, batchSize: configuration.mapping.batchSize,
            linger: configuration.mapping.linger, now: now, logger: logger,
            heartbeat: Heartbeat(), onCommitted: { uploaderSlot.wake() })
        self.mappingStage = mappingStage
        let acquisitionHealth = AcquisitionHealth(store: store, logger: logger)
        self.acquisitionHealth = acquisitionHealth
        let intakeSink = IntakeSink(
            store: store, monitor: monitor, profileLoaded: { catalog[$0.rawValue] != nil }, onCommitted: { mappingStage.wake() }, now: now, logger: logger)
        self.intakeSink = intakeSink
        let mllpMetrics = MLLPMetrics()
        self.mllpMetrics = mllpMetrics
        let serveMLLP = configuration.hl7 != nil
        self.api = LocalAPI(
            configuration: configuration, catalog: catalog, store: store, monitor: monitor, accessJournal: accessJournal,
            acquisition: acquisitionHealth, sink: intakeSink, uploaderMetrics: { [uploaderSlot] in
                guard let uploader = uploaderSlot.uploader else { return nil }
                return await uploader.metrics().prometheusText(now: now())
            }, sourceMetrics: { serveMLLP ? mllpMetrics.prometheusText : "" }, now: now, logger: logger,
            page: StatusPageSupport(
                sessions: PageSessions(random: sessionRandom ?? PageSessions.systemRandom, now: now),
                random: sessionRandom ?? PageSessions.systemRandom, uploader: { [uploaderSlot] in await uploaderSlot.uploader?.metrics() }))
    }

    /// The uploader for `upstream`, with its credentials read now (from files or the environment).
    func makeUploader(_ upstream: GatewayConfiguration.UpstreamServer) throws -> Uploader {
        let transport = CurlTransport(options: upstream.transport)
        let authenticator = try upstream.auth.makeAuthenticator(transport: transport, now: now)
        let client = FHIRClient(baseURL: upstream.url, transport: transport, authenticator: authenticator)
        return Uploader(store: store, client: client, settings: upstream.upload, now: now, logger: logger)
    }

    package static let systemClock: @Sendable () -> Timestamp = Store.systemClock

    static func policy(_ bounds: GatewayConfiguration.StoreBounds) -> StorePolicy {
        let whenFull: StorePolicy.WhenFull
        switch bounds.evictionPolicy {
        case .refuse: whenFull = .refuseNewData
        case .evictOldestUnsynced: whenFull = .evictOldestUnsynced(olderThan: bounds.maxAgeMilliseconds.map { .milliseconds($0) })
        }
        // The store refuses at the high-water mark; the rest of maxBytes is headroom for the
        // resources that mapping the inbox still adds.
        // The journal's share is kept apart, so that data and journal together stay within maxBytes.
        return StorePolicy(
            maxBytes: bounds.dataLimitBytes, retainSynced: .milliseconds(bounds.syncedRetentionMilliseconds), whenFull: whenFull,
            journal: .init(maxBytes: bounds.journalMaxBytes, retain: bounds.journalRetainMilliseconds.map { .milliseconds($0) }))
    }

    /// Journals the configuration, hands back work of a previous process, then runs until
    /// SIGTERM/SIGINT (or cancellation) and closes the store.
    /// - Parameters:
    ///   - handlesSignals: SIGTERM and SIGINT start the graceful shutdown (off in tests, which cancel).
    ///   - onListening: called with the bound address once the HTTP server accepts connections.
    ///   - serviceManager: systemd's notification socket and watchdog (`Type=notify`), when it started the gateway.
    package func run(
        handlesSignals: Bool = true,
        serviceManager: ServiceManager? = nil,
        onListening: @escaping @Sendable (ListenAddress) async -> Void = { _ in }
    ) async throws {
        let uploader: Uploader?
        let acquisition: [any Service]
        do {
            uploader = try configuration.upstream.map(makeUploader)
            acquisition = try acquisitionServices()
            try await prepare()
        } catch {
            try? store.close()
            throw error
        }
        let listen = configuration.http.listen
        let logger = self.logger
        let http = configuration.http
        let connections = api.connections
        let channel = HTTP1Channel.Configuration(additionalChannelHandlers: [
            ConnectionGuardHandler(
                registry: connections, idleTimeout: .milliseconds(http.idleTimeoutMilliseconds),
                bodyTimeout: .milliseconds(http.bodyTimeoutMilliseconds)),
        ])
        var tls: LocalTLS?
        if let settings = http.tls {
            do {
                tls = try LocalTLS(settings)
            } catch {
                try? store.close()
                throw error
            }
        }
        let builder: HTTPServerBuilder = if let tls {
            HTTPServerBuilder { responder in ReloadableTLSChannel(base: HTTP1Channel(responder: responder, configuration: channel), tls: tls) }
        } else {
            .http1(configuration: channel)
        }
        let server = Application(
            router: api.router(),
            server: builder,
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port), serverName: nil, backlog: 1024,
                availableConnectionsDelegate: ConnectionCap(registry: connections)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.info("Local API listening", metadata: ["edge.http.host": "\(listen.host)", "edge.http.port": "\(port)"])
                await onListening(ListenAddress(host: listen.host, port: port))
                // Ready once the store is open, earlier work is handed back and the API accepts connections.
                if let error = serviceManager?.notifier.send("READY=1\nSTATUS=Listening on \(listen.host):\(port)") {
                    logger.warning("Cannot tell the service manager the gateway is ready", metadata: ["edge.notify.error": "\(error)"])
                }
            },
            logger: logger)
        let retention = RetentionService(store: store, logger: logger)
        // Started in this order, stopped in the reverse: intake first, journal last.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: accessJournal), .init(service: retention), .init(service: ClockWatchService(store: store, logger: logger)),
        ]
        // The uploader stops after intake and mapping, and before retention and the journal.
        if let uploader { services.append(.init(service: UploaderService(uploader: uploader))) }
        if uploader != nil, let witness = configuration.upstream?.journalWitnessMilliseconds {
            services.append(.init(service: JournalWitnessService(
                store: store, exporter: AuditEventExporter(gatewayID: ProcessInfo.processInfo.hostName), interval: .milliseconds(witness),
                logger: logger)))
        }
        services.append(.init(service: mappingStage))
        // Acquisition sources are intake like the server: they stop first and commit what they read.
        services += acquisition.map { .init(service: $0) }
        services.append(.init(service: server))
        if let tls, handlesSignals { services.append(.init(service: TLSReloadService(tls: tls, logger: logger))) }
        // Last, so it hears the shutdown first and says STOPPING=1 before intake stops.
        if let serviceManager {
            let stage = mappingStage
            services.append(.init(service: SystemdService(
                notifier: serviceManager.notifier, watchdog: serviceManager.watchdog, heartbeat: stage.heartbeat,
                poke: { stage.wake() }, sleep: serviceManager.sleep, logger: logger)))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [],
            logger: logger))
        self.group.withLock { $0 = group }
        uploaderSlot.set(uploader)
        if let upstream = configuration.upstream {
            logger.info("Uploading to the upstream FHIR server", metadata: [
                "edge.upstream.url": "\(UpstreamTransportError.loggable(upstream.url))", "edge.upstream.bundle": "\(upstream.upload.bundleType.rawValue)",
                "edge.upstream.idempotency": "\(upstream.upload.idempotency.rawValue)", "edge.upstream.auth": "\(upstream.auth.mode.name)",
            ])
        }
        defer { self.group.withLock { $0 = nil } }
        do {
            try await group.run()
        } catch {
            try? store.close()
            throw error
        }
        try store.close()
        logger.info("Gateway stopped; the store is closed")
    }

    /// Starts the graceful shutdown that SIGTERM starts: intake stops, the mapping batch in hand
    /// completes, the access journal flushes, then `run()` closes the store and returns.
    package func shutdown() async {
        let running = group.withLock { $0 }
        await running?.triggerGracefulShutdown()
    }

    /// Journals the loaded configuration and hands back claims of a previous process.
    func prepare() async throws(StoreError) {
        var profiles = JSONObject()
        for name in catalog.names {
            if let profile = catalog[name] { profiles[name] = .string(profile.templateVersion) }
        }
        let event = JournalEvent(
            kind: JournalKind("config.loaded"), actor: "gateway",
            details: [
                "file": .string(configuration.file), "demo": .bool(configuration.demo),
                "listen": .string(configuration.http.listen.description), "profiles": .object(profiles),
                "clients": .int(Int64(configuration.clients.count)),
                "maxBytes": .int(configuration.store.maxBytes), "highWaterBytes": .int(configuration.store.highWaterBytes),
                "evictionPolicy": .string(configuration.store.evictionPolicy.rawValue),
            ])
        try await store.journal([event])
        let resumed = try await store.resumeAfterRestart()
        if resumed.inbox + resumed.outbox > 0 {
            logger.notice("Work of a previous process handed back", metadata: [
                "edge.inbox.resumed": "\(resumed.inbox)", "edge.outbox.resumed": "\(resumed.outbox)",
            ])
        }
    }
}

/// Runs the store's retention pass periodically.
struct RetentionService: Service {
    let store: Store
    let logger: Logger
    var interval: Duration = .seconds(60)

    func run() async throws {
        // Cancelled at graceful shutdown: a pass in progress is one transaction and completes or rolls back.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do throws(StoreError) {
                    let report = try await store.enforceRetention()
                    if report.syncedRows + report.unsyncedRows > 0 {
                        logger.info("Retention evicted rows", metadata: [
                            "edge.retention.synced": "\(report.syncedRows)", "edge.retention.unsynced": "\(report.unsyncedRows)",
                        ])
                    }
                } catch {
                    logger.error("Retention pass failed", metadata: ["edge.store.error": "\(error.code)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
