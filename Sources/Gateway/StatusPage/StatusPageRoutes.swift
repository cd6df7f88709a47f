import EdgeCore
import EdgeSystem
import FoundationEssentials
import JSONQuery
#if canImport(Glibc)
import Glibc
#endif
import Bluetooth
import Hummingbird
import Store
import Upstream

/// What the status page needs beside the local API's own parts: the sessions, the uploader's
/// state and probes of the clock and the disk (injected, so tests can pin them).
struct StatusPageSupport: Sendable {
    let sessions: PageSessions
    /// The CSRF token of demo mode's session-less loopback page, drawn once per process.
    let demoCSRFToken: String
    let uploader: @Sendable () async -> UploaderMetrics?
    let clock: @Sendable () -> ClockState
    let disk: @Sendable (String) -> (free: Int64, total: Int64)?

    init(
        sessions: PageSessions, random: @escaping @Sendable () -> [UInt8] = PageSessions.systemRandom,
        uploader: @escaping @Sendable () async -> UploaderMetrics? = { nil },
        clock: @escaping @Sendable () -> ClockState = { ClockState.probe() },
        disk: @escaping @Sendable (String) -> (free: Int64, total: Int64)? = { StatusPageSupport.filesystemSpace($0) }
    ) {
        self.sessions = sessions
        self.demoCSRFToken = PageSessions.token(random())
        self.uploader = uploader
        self.clock = clock
        self.disk = disk
    }

    /// Free and total bytes of the filesystem holding `path` (statvfs).
    static func filesystemSpace(_ path: String) -> (free: Int64, total: Int64)? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let block = Int64(info.f_frsize)
        return (Int64(info.f_bavail) * block, Int64(info.f_blocks) * block)
    }
}

extension LocalAPI {
    /// The cookie's name: `__Host-` under TLS, which browsers accept only with Secure, Path=/ and no Domain.
    var sessionCookieName: String { configuration.http.tls != nil ? "__Host-fhir-edge-session" : "fhir-edge-session" }
    /// Sign-in and action forms are tiny; anything larger is refused unread.
    static let maxFormBytes = 4096
    /// Rows of the dead-letter list and of the journal the page shows.
    static let pageDeadLetters = 50
    static let pageJournalEntries = 20

    func addStatusPage(to router: Router<GatewayRequestContext>) {
        router.get("/") { request, context in
            await statusPage(request, context)
        }
        router.get("/page.css") { _, _ in
            Response(
                status: .ok, headers: Self.pageHeaders(contentType: "text/css; charset=utf-8", cache: "max-age=3600"),
                body: ResponseBody(byteBuffer: ByteBuffer(string: StatusPageHTML.stylesheet)))
        }
        router.post("/signin") { request, context in
            try await signIn(request, context)
        }
        router.post("/signout") { request, context in
            try await signOut(request, context)
        }
        router.post("/page/deadletters/:id/:action") { request, context in
            try await pageAction(request, context)
        }
    }

    // MARK: Who is looking

    /// The signed-in session's viewer, else demo mode's loopback viewer, else nil.
    func pageViewer(_ request: Request, _ context: GatewayRequestContext) -> StatusPageModel.Viewer? {
        if let session = page.sessions.session(request.cookies[sessionCookieName]?.value) {
            context.client.id = session.client
            return .init(client: session.client, roles: session.roles, csrfToken: session.csrfToken, signedIn: true)
        }
        if configuration.demo, context.peerIsLoopback != false {
            context.client.id = Self.demoClient
            return .init(client: Self.demoClient, roles: APIAction.demoRoles, csrfToken: page.demoCSRFToken, signedIn: false)
        }
        return nil
    }

    func statusPage(_ request: Request, _ context: GatewayRequestContext) async -> Response {
        guard let viewer = pageViewer(request, context) else {
            return Self.html(.ok, StatusPageHTML.signIn(error: nil))
        }
        guard viewer.may(.view) || viewer.may(.audit) else {
            await monitor.recordRejected(reason: "forbidden")
            return Self.html(.forbidden, StatusPageHTML.signIn(error: "This client has no role that shows the status page (viewer, operator, auditor or admin)."))
        }
        let notice = request.uri.queryParameters.get("done").flatMap { Self.notices(String($0)) }
        return Self.html(.ok, StatusPageHTML.page(await pageModel(viewer: viewer, notice: notice)))
    }

    /// The page's fixed sentences for `?done=`, so that nothing from the URL is echoed.
    static func notices(_ code: String) -> String? {
        switch code {
        case "replayed": "The dead letter was replayed: it is mapped or sent again."
        case "discarded": "The dead letter was discarded."
        case "signed-out": "Signed out."
        case "not-found": "That dead letter is gone (replayed or discarded already)."
        default: nil
        }
    }

    // MARK: Sign-in and out

    func signIn(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        if let refused = await crossSite(request) { return refused }
        guard let form = try await Self.form(request) else {
            return Self.html(.contentTooLarge, StatusPageHTML.signIn(error: "The form was too large."))
        }
        let token = form["token"].map { $0.trimmingSpaces } ?? ""
        guard !token.isEmpty, let client = authenticator.authenticated("Bearer " + token) else {
            await monitor.recordRejected(reason: "unauthorized")
            return Self.html(.unauthorized, StatusPageHTML.signIn(error: "That token is not the token of a configured client."))
        }
        context.client.id = client.id
        guard APIAction.view.allowed(for: client.roles) || APIAction.audit.allowed(for: client.roles) else {
            await monitor.recordRejected(reason: "forbidden")
            return Self.html(.forbidden, StatusPageHTML.signIn(
                error: "Client \(client.id) has no role that shows the status page; give it viewer, operator, auditor or admin in clients.\(client.id).roles."))
        }
        let started = page.sessions.start(client: client.id, roles: client.roles)
        var cookie = "\(sessionCookieName)=\(started.id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(page.sessions.lifetimeMilliseconds / 1000)"
        if configuration.http.tls != nil { cookie += "; Secure" }
        var headers = Self.pageHeaders(contentType: "text/plain; charset=utf-8")
        headers[.location] = "/"
        headers[.setCookie] = cookie
        return Response(status: .seeOther, headers: headers)
    }

    func signOut(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        if let refused = await crossSite(request) { return refused }
        let id = request.cookies[sessionCookieName]?.value
        guard let session = page.sessions.session(id) else {
            return Self.redirect("/")
        }
        context.client.id = session.client
        guard let form = try await Self.form(request), PageSessions.csrfMatches(form["csrf"], session.csrfToken) else {
            return await csrfRefused()
        }
        page.sessions.end(id)
        var headers = Self.pageHeaders(contentType: "text/plain; charset=utf-8")
        headers[.location] = "/?done=signed-out"
        var cookie = "\(sessionCookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        if configuration.http.tls != nil { cookie += "; Secure" }
        headers[.setCookie] = cookie
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: Actions

    /// Replay or discard one dead letter from the page: a session (or demo's loopback page),
    /// its CSRF token and the operator role.
    func pageAction(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        if let refused = await crossSite(request) { return refused }
        guard let viewer = pageViewer(request, context) else {
            await monitor.recordRejected(reason: "unauthorized")
            return Self.html(.unauthorized, StatusPageHTML.signIn(error: "Sign in first."))
        }
        guard let form = try await Self.form(request), PageSessions.csrfMatches(form["csrf"], viewer.csrfToken) else {
            return await csrfRefused()
        }
        guard viewer.may(.operate) else {
            await monitor.recordRejected(reason: "forbidden")
            return Self.html(.forbidden, StatusPageHTML.signIn(error: "Replay and discard need the operator role."))
        }
        guard let id = context.parameters.get("id").flatMap({ Int64($0) }), id > 0 else {
            return Self.html(.badRequest, StatusPageHTML.signIn(error: "A dead letter id is a whole number."))
        }
        let action = context.parameters.get("action") ?? ""
        guard action == "replay" || action == "discard" else {
            return Self.html(.notFound, StatusPageHTML.signIn(error: "The page knows replay and discard only."))
        }
        let actor = "http:" + viewer.client
        do {
            if action == "replay" {
                _ = try await store.replayDeadLetters([DeadLetterID(id)], actor: actor)
                sink.onCommitted()
                return Self.redirect("/?done=replayed")
            }
            try await store.discardDeadLetters([DeadLetterID(id)], actor: actor)
            return Self.redirect("/?done=discarded")
        } catch {
            if error.code == .notFound { return Self.redirect("/?done=not-found") }
            return Self.html(.serviceUnavailable, StatusPageHTML.signIn(error: "The store could not settle the dead letter (\(error.code)); see the daemon log."))
        }
    }

    /// A form post from another site (its `Origin` or `Sec-Fetch-Site` says so) is refused
    /// before anything is read; SameSite=Strict and the CSRF token cover browsers that send neither.
    func crossSite(_ request: Request) async -> Response? {
        let host = request.head.authority
        var foreign = false
        if let site = request.headers[HTTPFields.Element.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" { foreign = true }
        if let origin = request.headers[.origin] {
            let authority = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            if origin == "null" || authority == nil || authority != host { foreign = true }
        }
        guard foreign else { return nil }
        await monitor.recordRejected(reason: "cross-site")
        return Self.html(.forbidden, StatusPageHTML.signIn(error: "The gateway takes forms from its own page only."))
    }

    private func csrfRefused() async -> Response {
        await monitor.recordRejected(reason: "csrf")
        return Self.html(.forbidden, StatusPageHTML.signIn(error: "The form was stale or not from this page; reload the page and try again."))
    }

    // MARK: The model

    func pageModel(viewer: StatusPageModel.Viewer, notice: String?) async -> StatusPageModel {
        let time = now()
        let statistics = try? await store.reader.statistics(at: time)
        let refusing = try? await store.reader.isRefusingIntake()
        let (health, reason): (String, String?) = if refusing == nil {
            ("down", "the store could not be read")
        } else if store.isDiskFull {
            ("degraded", "disk full")
        } else if refusing == true {
            ("degraded", "store at its high-water mark")
        } else {
            ("ok", nil)
        }
        let queue = statistics.map { statistics in
            StatusPageModel.Queue(
                inbox: statistics.inbox, outboxPending: statistics.outboxPending, deadLetters: statistics.deadLetters,
                bytes: statistics.bytes, highWaterBytes: configuration.store.dataLimitBytes, maxBytes: configuration.store.maxBytes,
                oldestUnsentSeconds: statistics.oldestUnsentAge?.fractionalSeconds,
                maxAgeSeconds: configuration.store.maxAgeMilliseconds.map { Double($0) / 1000 },
                atHighWaterMark: statistics.atHighWaterMark)
        }
        var upstream: StatusPageModel.Upstream?
        if let server = configuration.upstream {
            let metrics = await page.uploader()
            upstream = .init(
                url: UpstreamTransportError.loggable(server.url), running: metrics != nil,
                consecutiveFailures: metrics?.consecutiveFailures ?? 0, backoffUntil: metrics?.backoffUntil,
                lastSuccess: metrics?.lastSuccessAt, lastError: metrics?.lastError, requests: metrics?.requests ?? 0)
        }
        // Counted over the oldest letters the page reads at most, so a large backlog costs one bounded read.
        let counted = (try? await store.reader.deadLetters(after: nil, limit: 1000)) ?? []
        var reasons: [String: StatusPageModel.DeadLetterReason] = [:]
        for letter in counted {
            reasons[letter.stage + "\u{0}" + letter.errorType, default: .init(stage: letter.stage, errorType: letter.errorType, count: 0)].count += 1
        }
        let deadLetters = counted.prefix(Self.pageDeadLetters).map { letter in
            StatusPageModel.DeadLetter(
                id: letter.id.rawValue, createdAt: letter.createdAt, stage: letter.stage, errorType: letter.errorType,
                device: letter.deviceID ?? letter.resourceType, profile: letter.profile?.rawValue, replayCount: letter.replayCount)
        }
        var journal: [StatusPageModel.JournalLine]?
        if viewer.may(.audit), let statistics {
            let records = (try? await store.reader.journal(
                after: max(0, statistics.journalEntries - Int64(Self.pageJournalEntries)), limit: Self.pageJournalEntries)) ?? []
            journal = records.reversed().map {
                .init(sequence: $0.entry.sequence, time: $0.entry.time, kind: $0.entry.kind.rawValue, actor: $0.entry.actor)
            }
        }
        let directory = FilePaths.directory(of: configuration.storePath)
        let disk = page.disk(directory).map { space in
            StatusPageModel.Disk(path: directory, freeBytes: space.free, totalBytes: space.total, storeFileBytes: Self.storeFileBytes(configuration.storePath))
        }
        return StatusPageModel(
            viewer: viewer, health: health, healthReason: reason, version: GatewayVersion.current, startedAt: monitor.startedAt, now: time,
            clock: page.clock(), upstream: upstream, queue: queue, devices: await pageDevices(now: time),
            deadLetterReasons: reasons.values.sorted { ($0.count, $1.stage, $1.errorType) > ($1.count, $0.stage, $0.errorType) },
            deadLetters: Array(deadLetters), deadLettersCounted: (statistics?.deadLetters ?? 0) > Int64(counted.count) ? counted.count : nil,
            disk: disk, journal: journal, notice: notice, tls: configuration.http.tls != nil)
    }

    /// Devices that mapping saw (HTTP and acquired) joined with acquisition health (Modbus, BLE),
    /// which knows devices that have not produced a reading yet.
    func pageDevices(now: Timestamp) async -> [StatusPageModel.Device] {
        var rows: [String: StatusPageModel.Device] = [:]
        for (id, status) in await monitor.deviceList() {
            rows[id] = .init(
                id: id, transport: status.transport ?? "-", profile: status.profile, lastSeen: status.lastSeen,
                readingsToday: status.readingsToday(now), lastError: status.lastError, lastErrorAt: status.lastErrorAt, battery: status.battery)
        }
        if let acquisition {
            for entry in await acquisition.deviceList() {
                // BLE messages name the device by its EUI-48 spelling; health keeps the configuration's.
                let id = rows[entry.device] != nil ? entry.device : ((BluetoothAddress(entry.device)?.eui48).flatMap { rows[$0] != nil ? $0 : nil } ?? entry.device)
                var row = rows[id] ?? .init(id: id, transport: entry.transport, profile: entry.status.profile, readingsToday: 0)
                row.transport = entry.transport
                row.state = entry.status.up ? "up" : "down"
                if let good = entry.status.lastGood, row.lastSeen.map({ good > $0 }) ?? true { row.lastSeen = good }
                if let error = entry.status.lastError, let at = entry.status.lastErrorAt, row.lastErrorAt.map({ at > $0 }) ?? true {
                    row.lastError = error
                    row.lastErrorAt = at
                }
                if let battery = entry.status.details["battery"]?.doubleValue { row.battery = battery }
                rows[id] = row
            }
        }
        return rows.keys.sorted().compactMap { rows[$0] }
    }

    static func storeFileBytes(_ path: String) -> Int64 {
        ["", "-wal", "-shm"].reduce(0) { total, suffix in
            total + (FileStatus(path: path + suffix)?.size ?? 0)
        }
    }

    // MARK: HTTP

    /// `application/x-www-form-urlencoded` fields, or nil when the body is over `maxFormBytes`.
    static func form(_ request: Request) async throws -> [String: String]? {
        let buffer = try await request.body.collect(upTo: maxFormBytes + 1)
        guard buffer.readableBytes <= maxFormBytes else { return nil }
        return formFields(String(buffer: buffer))
    }

    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                FormDecoding.decode(part) ?? ""
            }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// What every page answer carries: no caching of state, no framing, no script, no referrer to other sites.
    static func pageHeaders(contentType: String, cache: String = "no-store") -> HTTPFields {
        [
            .contentType: contentType, .cacheControl: cache,
            .contentSecurityPolicy: "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPFields.Element.Name("X-Content-Type-Options")!: "nosniff", HTTPFields.Element.Name("X-Frame-Options")!: "DENY",
            HTTPFields.Element.Name("Referrer-Policy")!: "same-origin",
        ]
    }

    static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: pageHeaders(contentType: "text/html; charset=utf-8"), body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        var headers = pageHeaders(contentType: "text/plain; charset=utf-8")
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }
}
