import EdgeCore
import Hummingbird
import JSONQuery
import Logging
import Audit
import Store

/// Per-request context: the peer's loopback-ness (for demo ingest) and a slot in which the
/// handler names the authenticated client for the access journal.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// nil when the peer address is unknown (an in-process test channel).
    let peerIsLoopback: Bool?
    let client: ClientSlot

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        if let address = source.channel.remoteAddress?.ipAddress {
            self.peerIsLoopback = address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
        } else {
            self.peerIsLoopback = nil
        }
        self.client = ClientSlot()
    }
}

final class ClientSlot: Sendable {
    private let value = Locked<String?>(nil)
    var id: String? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// The local HTTP API: `POST /ingest/{profile}`, `GET /health`, `GET /metrics`, `GET /status`, and the status page at `/`.
struct LocalAPI: Sendable {
    /// The demo profile that demo mode opens to loopback peers without a token.
    static let demoProfile = "demo-vitals"
    static let demoClient = "demo"

    let configuration: GatewayConfiguration
    let catalog: DeviceProfileCatalog
    let store: Store
    let monitor: GatewayMonitor
    let accessJournal: AccessJournal
    let acquisition: AcquisitionHealth?
    let authenticator: ClientAuthenticator
    /// Open connections, closed when idle or slow; and the body bytes all requests hold.
    let connections: ConnectionRegistry
    let inFlight: InFlightBytes
    /// Where ingest commits, as every other source does.
    let sink: IntakeSink
    /// The uploader's Prometheus families, when an upstream is configured.
    let uploaderMetrics: @Sendable () async -> String?
    /// Prometheus families of listeners outside this server (MLLP).
    let sourceMetrics: @Sendable () -> String
    let now: @Sendable () -> Timestamp
    let logger: Logger
    /// The status page at `/` (Sources/Gateway/StatusPage).
    let page: StatusPageSupport

    init(
        configuration: GatewayConfiguration, catalog: DeviceProfileCatalog, store: Store, monitor: GatewayMonitor,
        accessJournal: AccessJournal, acquisition: AcquisitionHealth? = nil, sink: IntakeSink,
        uploaderMetrics: @escaping @Sendable () async -> String? = { nil },
        sourceMetrics: @escaping @Sendable () -> String = { "" },
        now: @escaping @Sendable () -> Timestamp, logger: Logger, page: StatusPageSupport? = nil
    ) {
        self.sink = sink
        self.page = page ?? StatusPageSupport(sessions: PageSessions(now: now))
        self.uploaderMetrics = uploaderMetrics
        self.sourceMetrics = sourceMetrics
        self.configuration = configuration
        self.catalog = catalog
        self.store = store
        self.monitor = monitor
        self.accessJournal = accessJournal
        self.acquisition = acquisition
        self.authenticator = ClientAuthenticator(clients: configuration.clients)
        self.connections = ConnectionRegistry(limit: configuration.http.maxConnections)
        self.inFlight = InFlightBytes(limit: configuration.http.maxInFlightBytes)
        self.now = now
        self.logger = logger
    }

    func router() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: AccessRecording(monitor: monitor, journal: accessJournal))
        router.post("/ingest/:profile") { request, context in
            try await ingest(request, context: context)
        }
        router.get("/health") { _, _ in
            await health()
        }
        router.get("/metrics") { request, context in
            if let refused = await authorize(request, context, .view) { return refused }
            return await metrics()
        }
        router.get("/status") { request, context in
            if let refused = await authorize(request, context, .view) { return refused }
            return await status()
        }
        router.get("/deadletters") { request, context in
            if let refused = await authorize(request, context, .operate) { return refused }
            return await deadLetters(request)
        }
        router.post("/deadletters/:id/replay") { request, context in
            if let refused = await authorize(request, context, .operate) { return refused }
            return await settleDeadLetter(context, replay: true)
        }
        router.post("/deadletters/:id/discard") { request, context in
            if let refused = await authorize(request, context, .operate) { return refused }
            return await settleDeadLetter(context, replay: false)
        }
        router.get("/journal") { request, context in
            if let refused = await authorize(request, context, .audit) { return refused }
            return await journal(request)
        }
        router.get("/journal/verify") { request, context in
            if let refused = await authorize(request, context, .audit) { return refused }
            return await verifyJournal()
        }
        addStatusPage(to: router)
        return router
    }

    // MARK: Roles

    /// nil when the request's client has a role that allows `action` (the client is then named
    /// for the access journal); else the 401 or 403 to answer.
    func authorize(_ request: Request, _ context: GatewayRequestContext, _ action: APIAction) async -> Response? {
        let authorization = request.headers[.authorization]
        let roles: Set<GatewayConfiguration.Role>
        if authorization == nil, configuration.demo, context.peerIsLoopback != false {
            context.client.id = Self.demoClient
            roles = APIAction.demoRoles
        } else if let client = authenticator.authenticated(authorization) {
            context.client.id = client.id
            roles = client.roles
        } else {
            await monitor.recordRejected(reason: "unauthorized")
            return Self.error(.unauthorized, "unauthorized", "send Authorization: Bearer <token> of a configured client",
                              headers: [.wwwAuthenticate: "Bearer"])
        }
        guard action.allowed(for: roles) else {
            await monitor.recordRejected(reason: "forbidden")
            let needed = GatewayConfiguration.Role.allCases.filter { action.allowed(for: [$0]) && $0 != .admin }.map(\.rawValue)
            return Self.error(.forbidden, "forbidden",
                              "client \(context.client.id ?? "?") may not \(action.rawValue); it needs the role \(needed.joined(separator: " or ")) or admin (clients.<id>.roles)")
        }
        return nil
    }

    // MARK: Ingest

    func ingest(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let profileName = context.parameters.get("profile") ?? ""
        let authorization = request.headers[.authorization]
        let client: String
        if authorization == nil, configuration.demo, profileName == Self.demoProfile, context.peerIsLoopback != false {
            client = Self.demoClient
        } else if let id = authenticator.client(forAuthorization: authorization) {
            client = id
        } else {
            await monitor.recordRejected(reason: "unauthorized")
            return Self.error(.unauthorized, "unauthorized", "send Authorization: Bearer <token> of a configured client",
                              headers: [.wwwAuthenticate: "Bearer"])
        }
        context.client.id = client
        guard let profile = catalog[profileName] else {
            await monitor.recordRejected(reason: "unknown-profile")
            return Self.error(.notFound, "unknown-profile", "no device profile named \(profileName) is loaded")
        }
        let allowed = client == Self.demoClient
            ? profileName == Self.demoProfile
            : configuration.profiles.access[profileName]?.allows(client) ?? false
        guard allowed else {
            await monitor.recordRejected(reason: "forbidden")
            return Self.error(.forbidden, "forbidden", "client \(client) may not post to profile \(profileName); see profiles.access")
        }
        guard let format = IngestBody.Format(contentType: request.headers[.contentType]) else {
            await monitor.recordRejected(reason: "unsupported-media-type")
            return Self.error(.unsupportedMediaType, "unsupported-media-type", "send application/json (an object or an array) or application/x-ndjson")
        }
        let limit = configuration.http.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            await monitor.recordRejected(reason: "too-large")
            return Self.error(.contentTooLarge, "too-large", "the body is \(length) bytes; at most \(limit) are accepted (http.maxBodySize)")
        }
        // The body's bytes count against the budget of all requests from before they are read
        // (its Content-Length) or as they arrive (chunked), until the request is answered.
        var reserved = request.headers[.contentLength].flatMap { Int($0) } ?? 0
        guard inFlight.reserve(reserved) else { return await busy() }
        defer { inFlight.release(reserved) }
        var body: [UInt8] = []
        body.reserveCapacity(reserved)
        for try await buffer in request.body {
            guard body.count + buffer.readableBytes <= limit else {
                await monitor.recordRejected(reason: "too-large")
                return Self.error(.contentTooLarge, "too-large", "the body exceeds \(limit) bytes (http.maxBodySize)")
            }
            let needed = body.count + buffer.readableBytes - reserved
            if needed > 0 {
                guard inFlight.reserve(needed) else { return await busy() }
                reserved += needed
            }
            body.append(contentsOf: buffer.readableBytesView)
        }
        let messages: [IngestBody.Message]
        do {
            messages = try IngestBody.split(body, format: format)
        } catch {
            await monitor.recordRejected(reason: "invalid-body")
            return Self.json(.badRequest, error.json)
        }
        let deliveries = messages.map { message in
            DeviceMessage(profile: profile.id, transport: .http, sourceID: client, deviceID: Self.deviceHint(message.json), payload: message.bytes)
        }
        let receipt: InboxReceipt
        do {
            receipt = try await sink.commit(deliveries, actor: "http:" + client)
        } catch {
            let refusal = error.refusal
            let status: HTTPResponse.Status = switch refusal.code {
            case "high-water-mark", "disk-full": .serviceUnavailable
            case "too-large": .contentTooLarge
            case "unknown-profile": .notFound
            default: .internalServerError
            }
            var headers: HTTPFields = [:]
            if let after = error.retryAfter { headers[.retryAfter] = String(after.components.seconds) }
            return Self.error(status, refusal.code, refusal.reason, headers: headers)
        }
        let answer: JSONValue = ["accepted": .int(Int64(receipt.ids.count)), "ids": .array(receipt.ids.map { .int($0.rawValue) })]
        return Self.json(.accepted, answer)
    }

    /// The device a message names in a top-level `deviceId` member, for the journal's receipt
    /// entry; the templates decide the device for the Observations.
    static func deviceHint(_ message: JSONValue) -> String? {
        guard case .object(let object) = message else { return nil }
        for key in ["deviceId", "deviceID", "DeviceId", "device_id"] {
            if case .string(let id)? = object[key], !id.isEmpty, id.utf8.count <= 128 { return id }
        }
        return nil
    }

    // MARK: Operations

    func snapshot() async -> StoreSnapshot? {
        guard let statistics = try? await store.reader.statistics(at: now()) else { return nil }
        return StoreSnapshot(statistics)
    }

    /// Up or down, open to anyone (load balancers, the unit's watchdog): one read of the store's
    /// meta row, whatever the backlog. `degraded` while intake is refused (high-water mark, or a
    /// full disk, which it names).
    func health() async -> Response {
        guard let refusing = try? await store.reader.isRefusingIntake() else {
            return Self.json(.serviceUnavailable, ["status": "down"])
        }
        if store.isDiskFull { return Self.json(.ok, ["status": "degraded", "reason": "disk-full"]) }
        return Self.json(.ok, ["status": .string(refusing ? "degraded" : "ok")])
    }

    func metrics() async -> Response {
        let snapshot = await snapshot()
        let maxAge = configuration.store.maxAgeMilliseconds.map { Double($0) / 1000 }
        var text = await monitor.prometheusText(store: snapshot, maxAgeSeconds: maxAge)
        if let acquisition { text += await acquisition.prometheusText(now: now()) }
        if let upstream = await uploaderMetrics() { text += upstream }
        text += connections.prometheusText
        text += sourceMetrics()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func status() async -> Response {
        let snapshot = await snapshot()
        var status = await monitor.statusJSON(store: snapshot, now: now())
        if let acquisition, case .object(var root) = status {
            root["acquisition"] = await acquisition.statusJSON()
            status = .object(root)
        }
        return Self.json(.ok, status)
    }

    // MARK: Operations

    func deadLetters(_ request: Request) async -> Response {
        let after = request.uri.queryParameters.get("after").flatMap { Int64($0) } ?? 0
        let limit = min(max(request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100, 1), 1000)
        guard let letters = try? await store.reader.deadLetters(after: DeadLetterID(after), limit: limit) else {
            return Self.error(.serviceUnavailable, "store-unavailable", "the store could not be read; see the daemon log")
        }
        return Self.json(.ok, ["deadLetters": .array(letters.map { .object($0.summaryJSON) })])
    }

    func settleDeadLetter(_ context: GatewayRequestContext, replay: Bool) async -> Response {
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }) else {
            return Self.error(.badRequest, "invalid-id", "a dead letter id is a whole number")
        }
        let actor = "http:" + (context.client.id ?? "anonymous")
        do {
            if replay {
                let destinations = try await store.replayDeadLetters([DeadLetterID(id)], actor: actor)
                sink.onCommitted()
                return Self.json(.ok, ["replayed": .int(Int64(destinations.count)), "to": .array(destinations.map { .string($0.text) })])
            }
            try await store.discardDeadLetters([DeadLetterID(id)], actor: actor)
            return Self.json(.ok, ["discarded": 1])
        } catch {
            if error.code == .notFound { return Self.error(.notFound, "not-found", "no dead letter \(id)") }
            return Self.error(.serviceUnavailable, "store-unavailable", "the dead letter could not be settled: \(error.code)")
        }
    }

    func journal(_ request: Request) async -> Response {
        let after = request.uri.queryParameters.get("after").flatMap { Int64($0) } ?? 0
        let limit = min(max(request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100, 1), 1000)
        guard let records = try? await store.reader.journal(after: after, limit: limit) else {
            return Self.error(.serviceUnavailable, "store-unavailable", "the journal could not be read")
        }
        let entries: [JSONValue] = records.map { record in
            [
                "sequence": .int(record.entry.sequence), "time": .string(record.entry.time.iso8601), "kind": .string(record.entry.kind.rawValue),
                "actor": .string(record.entry.actor), "subjects": .array(record.entry.subjects.map { .string($0.description) }),
                "details": .object(record.entry.details), "hash": .string(record.hash),
            ]
        }
        return Self.json(.ok, ["entries": .array(entries)])
    }

    func verifyJournal() async -> Response {
        do {
            switch try await JournalVerifier().verify(store.reader) {
            case .intact(let entries, let head):
                return Self.json(.ok, ["intact": true, "entries": .int(entries), "head": head.map(JSONValue.string) ?? .null])
            case .broken(let sequence, let reason):
                return Self.json(.ok, ["intact": false, "firstBadSequence": .int(sequence), "reason": .string(reason)])
            }
        } catch {
            return Self.error(.serviceUnavailable, "store-unavailable", "the journal could not be read: \(error.code)")
        }
    }

    /// 503 while other requests hold the in-flight byte budget: the sender retries shortly.
    private func busy() async -> Response {
        await monitor.recordRejected(reason: "busy")
        return Self.error(.serviceUnavailable, "busy", "the gateway is reading other requests (http.maxInFlightBytes); retry shortly",
                          headers: [.retryAfter: "1"])
    }

    // MARK: Responses

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var bytes: [UInt8] = []
        JSONWriter().write(value, into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) -> Response {
        json(status, ["error": .string(code), "message": .string(message)], headers: headers)
    }
}

extension StoreSnapshot {
    init(_ statistics: StoreStatistics) {
        self.init(
            received: statistics.received, refused: statistics.refused, inbox: statistics.inbox,
            outboxPending: statistics.outboxPending, outboxSent: statistics.outboxSent,
            deadLetters: statistics.deadLetters, bytes: statistics.bytes,
            oldestUnsentSeconds: statistics.oldestUnsentAge?.fractionalSeconds,
            atHighWaterMark: statistics.atHighWaterMark, journalBytes: statistics.journalBytes)
    }
}

/// Counts every request by route and status and journals it with the client that made it.
struct AccessRecording: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let monitor: GatewayMonitor
    let journal: AccessJournal

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            await record(request, context, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            await record(request, context, status: error.status.code)
            throw error
        } catch {
            await record(request, context, status: 500)
            throw error
        }
    }

    private func record(_ request: Request, _ context: GatewayRequestContext, status: Int) async {
        let route = context.endpointPath ?? "unmatched"
        await monitor.recordRequest(route: route, status: status)
        journal.record(client: context.client.id, method: request.method.rawValue, route: route, status: status)
    }
}
