package import EdgeCore
import FHIRModel
import JSONQuery
package import Logging
package import Store

/// Moves the outbox to the upstream server: leases a batch, sends it as one bundle, settles
/// each resource (accept / reject / keep) and pauses after failures. Decisions are made by
/// `UploadStateMachine`; this actor performs them. One lease is in flight at a time, and the
/// store never leases an identity that is already in flight, so there is one upload in flight
/// per identity.
package actor Uploader {
    let store: any OutboxStore
    let client: FHIRClient
    package let settings: UploadSettings
    let now: @Sendable () -> Timestamp
    let sleep: @Sendable (Duration) async throws -> Void
    let logger: Logger
    let builder: EntryBuilder
    var machine: UploadStateMachine<SplitMix64>
    var counters = UploaderMetrics()
    /// Server ids of Devices and Patients, loaded from the store on first use.
    var identities: IdentityCache
    let wakeUp = WakeUp()

    /// - Parameters:
    ///   - now: the clock; pass the store's, so that retry times compare with its own.
    ///   - sleep: how to wait (backoff, linger, idle polls); tests advance a manual clock instead.
    ///   - randomSeed: seeds the backoff jitter; nil draws one from the system generator.
    package init(store: some OutboxStore, client: FHIRClient, settings: UploadSettings = UploadSettings(),
                now: @escaping @Sendable () -> Timestamp = Store.systemClock,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                randomSeed: UInt64? = nil, logger: Logger = Logger(label: "fhir-edge.upstream")) {
        self.store = store
        self.client = client
        self.settings = settings
        self.now = now
        self.sleep = sleep
        self.logger = logger
        self.builder = EntryBuilder(idempotency: settings.idempotency, baseURL: client.baseURL)
        self.identities = IdentityCache(refreshAfter: settings.identityRefresh)
        self.machine = UploadStateMachine(policy: settings.retry, bundleType: settings.bundleType,
                                          random: SplitMix64(seed: randomSeed ?? SystemRandom.seed()))
    }

    /// New resources are in the outbox: an idle uploader leases at once instead of at its next
    /// poll (the poll stays, for rows that arrive another way).
    package nonisolated func wake() {
        wakeUp.wake()
    }

    /// Uploads until the task is cancelled. Store failures are logged and retried after a pause;
    /// they never end the loop.
    package func run() async throws {
        while !Task.isCancelled {
            let pause: Duration
            var isIdle = false
            do {
                let report = try await uploadOnce()
                pause = nextPause(after: report)
                isIdle = report.leased == 0 && report.pause == nil
            } catch where error.code == .cancelled {
                return
            } catch {
                counters.lastError = error.description
                logger.error("upload round failed in the store", metadata: ["edge.error": "\(error.code)"])
                pause = settings.idlePoll
            }
            do {
                if isIdle { try await idle(for: pause) } else { try await sleep(pause) }
            } catch { return }
        }
    }

    /// Waits `pause`, or less when woken.
    private func idle(for pause: Duration) async throws {
        let (sleep, wakeUp) = (self.sleep, self.wakeUp)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await sleep(pause) }
            group.addTask { _ = await wakeUp.wait() }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Uploads until nothing is waiting in the outbox (true), or until `timeout` has passed by
    /// the uploader's clock (false). Waits out backoff pauses on the way. For tests, demos and
    /// one-shot runs.
    package func drain(timeout: Duration) async throws -> Bool {
        let deadline = now().adding(milliseconds: timeout.wholeMilliseconds)
        while true {
            let report = try await uploadOnce()
            if report.leased == 0, try await store.outboxBacklog().pending == 0 { return true }
            let remaining = deadline.millisecondsSinceEpoch - now().millisecondsSinceEpoch
            guard remaining > 0 else { return false }
            let pause = nextPause(after: report)
            if report.leased > 0 && report.pause == nil { continue }
            try await sleep(min(pause, .milliseconds(remaining)))
        }
    }

    /// What the uploader has done since it started, and how far behind the outbox is.
    package func metrics() async -> UploaderMetrics {
        var metrics = counters
        metrics.consecutiveFailures = machine.consecutiveFailures
        if let backlog = try? await store.outboxBacklog() {
            metrics.outboxPending = backlog.pending
            metrics.oldestUnsentAge = backlog.oldestUnsentAge
        }
        return metrics
    }

    private func nextPause(after report: RoundReport) -> Duration {
        if let pause = report.pause {
            counters.backoffUntil = now().adding(milliseconds: pause.wholeMilliseconds)
            return pause
        }
        counters.backoffUntil = nil
        if report.leased == 0 { return settings.idlePoll }
        // A partial batch means the outbox is nearly empty: let the next one fill for a while.
        return report.leased < settings.batchSize ? settings.linger : .zero
    }

    /// One lease: send, settle, and say how long to pause.
    @discardableResult
    package func uploadOnce() async throws(StoreError) -> RoundReport {
        let lease = try await store.leaseOutbox(limit: settings.batchSize, for: settings.leaseDuration)
        var report = RoundReport(leased: lease.items.count)
        guard !lease.items.isEmpty else { return report }

        var items = lease.items
        if needsIdentityResolution(items) {
            let prepared = try await prepareIdentities(items)
            try await settle(lease, prepared.settlements, into: &report)
            if let pause = prepared.pause {
                report.pause = pause
                return report
            }
            items = prepared.ready
        }
        var bundled: [OutboxItem] = []
        var merged: [OutboxItem] = []
        for item in items {
            if settings.mergeSampledData, settings.idempotency == .put, SampledDataMerge.applies(to: item.resource) {
                merged.append(item)
            } else {
                bundled.append(item)
            }
        }
        let candidates = bundled.map { UploadStateMachine<SplitMix64>.Candidate(item: $0, entry: builder.entry(for: $0)) }
        var step = machine.leased(candidates, now: now())
        while true {
            try await settle(lease, step.settle, into: &report)
            switch step.next {
            case .done(let pause):
                report.pause = pause
            case .send(let group):
                let reply = await send(group)
                step = machine.replied(reply, now: now())
                continue
            }
            break
        }
        if report.pause == nil {
            for item in merged {
                let outcome = await SampledDataMerge(client: client, policy: settings.retry).upload(item, now: now())
                counters.requests += outcome.requests
                try await settle(lease, [OutboxSettlement(item.id, outcome.outcome)], into: &report)
            }
        } else if !merged.isEmpty {
            // The server is failing: the merges wait with the rest.
            let retryAt = report.pause.map { now().adding(milliseconds: $0.wholeMilliseconds) }
            try await settle(lease, merged.map { OutboxSettlement($0.id, .keep(retryAt: retryAt)) }, into: &report)
        }
        return report
    }

    private func settle(_ lease: OutboxLease, _ settlements: [OutboxSettlement], into report: inout RoundReport) async throws(StoreError) {
        guard !settlements.isEmpty else { return }
        let result = try await store.settle(lease: lease.id, settlements, actor: "uploader")
        report.accepted += result.accepted
        report.rejected += result.rejected.count
        report.kept += result.kept
        counters.entriesAccepted += result.accepted
        if result.accepted > 0 { counters.lastSuccessAt = now() }
        counters.entriesRejected += result.rejected.count
        counters.entriesKept += result.kept
        if !result.rejected.isEmpty {
            logger.warning("upstream rejected resources; they are in the dead letters", metadata: [
                "edge.deadletter.ids": "\(result.rejected.map(\.rawValue))",
            ])
        }
        if !result.stale.isEmpty {
            logger.warning("lease expired before settling; the resources will be sent again", metadata: [
                "edge.outbox.rows": "\(result.stale.map(\.rawValue))",
            ])
        }
    }

    /// Sends one bundle and journals the attempt (ids and counts only).
    private func send(_ group: [UploadStateMachine<SplitMix64>.Candidate]) async -> UploadStateMachine<SplitMix64>.Reply {
        let request: UpstreamRequest
        var body: [UInt8] = []
        if settings.bundleType == .single, group.count == 1, let entry = group[0].entry, let call = entry.request {
            if let resource = entry.resource { JSONWriter().write(resource, into: &body) }
            var headers = HTTPHeaders()
            if let condition = call.ifNoneExist { headers.set("If-None-Exist", condition) }
            request = client.request(call.method, call.url, body: body, headers: headers)
        } else {
            let bundle = Bundle(type: settings.bundleType == .transaction ? "transaction" : "batch", entry: group.compactMap(\.entry))
            JSONWriter().write(bundle.json, into: &body)
            request = client.request("POST", "", body: body)
        }
        let started = now()
        counters.requests += 1
        if group.contains(where: { $0.item.attempts > 1 }) { counters.retries += 1 }
        var details: JSONObject = [
            "bundleType": .string(settings.bundleType.rawValue), "entries": .int(Int64(group.count)),
            "bytes": .int(Int64(body.count)),
        ]
        let reply: UploadStateMachine<SplitMix64>.Reply
        do {
            let response = try await client.send(request)
            details["status"] = .int(Int64(response.status))
            var replyBody = Self.replyBody(response)
            if settings.bundleType == .single, (200..<300).contains(response.status) {
                // The one entry's outcome is in the headers, as a bundle reply would carry it.
                replyBody = .bundle(Bundle(type: "batch-response", entry: [Bundle.Entry(response: Bundle.Response(
                    status: String(response.status), location: response.headers["Location"] ?? response.headers["Content-Location"],
                    etag: response.headers["ETag"]))]))
            }
            reply = .response(status: response.status, retryAfter: RetryAfter.parse(response.headers["Retry-After"], now: now()),
                              body: replyBody)
        } catch {
            details["error"] = .string(error.kind.rawValue)
            counters.lastError = error.description
            logger.warning("upload failed", metadata: ["edge.upstream.error": "\(error.kind)", "edge.upstream.entries": "\(group.count)"])
            reply = .transportFailed(error)
        }
        details["milliseconds"] = .int(now().millisecondsSinceEpoch - started.millisecondsSinceEpoch)
        let event = JournalEvent(kind: .uploadAttempted, actor: "uploader", subjects: group.map { .outbox($0.item.id) }, details: details)
        do { try await store.journal([event]) } catch {
            logger.error("could not journal an upload attempt", metadata: ["edge.error": "\(error.code)"])
        }
        return reply
    }

    static func replyBody(_ response: UpstreamResponse) -> UploadStateMachine<SplitMix64>.ReplyBody {
        guard !response.body.isEmpty, let json = try? JSONValue(parsing: response.body), case .object(let object) = json,
              case .string(let type)? = object["resourceType"]
        else { return .other }
        switch type {
        case "Bundle": return (try? Bundle(json: json)).map { .bundle($0) } ?? .other
        case "OperationOutcome": return (try? OperationOutcome(json: json)).map { .outcome($0) } ?? .other
        default: return .other
        }
    }
}

extension JournalKind {
    /// One request to the upstream server: entries, bytes, status or transport error, duration.
    package static let uploadAttempted = JournalKind("upload.attempted")
}

/// What one lease came to.
package struct RoundReport: Sendable, Equatable {
    package var leased: Int
    package var accepted = 0
    package var rejected = 0
    package var kept = 0
    /// Backoff the uploader takes before the next lease, after a failure.
    package var pause: Duration?

    package init(leased: Int, accepted: Int = 0, rejected: Int = 0, kept: Int = 0, pause: Duration? = nil) {
        self.leased = leased
        self.accepted = accepted
        self.rejected = rejected
        self.kept = kept
        self.pause = pause
    }
}

/// Counters for `/metrics` and `queue stats`.
package struct UploaderMetrics: Sendable, Equatable {
    /// Requests sent to the server (bundles and single-resource merges).
    package var requests = 0
    /// Requests that carried at least one resource sent before.
    package var retries = 0
    package var entriesAccepted = 0
    package var entriesRejected = 0
    package var entriesKept = 0
    package var consecutiveFailures = 0
    /// Set while the uploader waits after a failure.
    package var backoffUntil: Timestamp?
    package var lastError: String?
    /// When the server last accepted a resource.
    package var lastSuccessAt: Timestamp?
    package var outboxPending: Int64 = 0
    package var oldestUnsentAge: Duration?
    /// Calls made to resolve Device and Patient identifiers (reads, searches, creates).
    package var identityRequests = 0
    /// Identities answered from the map without a call.
    package var identityCacheHits = 0
    /// Lookups that found no Device (or no patient): those Observations are dead letters.
    package var identityNotFound = 0
    /// Server ids dropped from the map because the server said 404 or 410.
    package var identityInvalidated = 0

    package init() {}
}
