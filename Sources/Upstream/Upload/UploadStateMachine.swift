import EdgeCore
import FHIRModel
import Store

/// The uploader's decisions, with no I/O: fed the leased resources and each reply, it says
/// what to send next, how to settle each resource and how long to pause. The `Uploader` actor
/// performs the effects.
///
/// Within one lease the resources go out in one bundle. A bundle the server refuses as a whole
/// with a 4xx (a failed `transaction`, or a batch too large or unreadable) is split in halves
/// and each half sent again, until the offending entries stand alone and are rejected; the rest
/// is accepted. A failure of the server or the network (5xx, 408, 429, transport errors) keeps
/// everything not yet settled and pauses with exponential backoff and full jitter, or for as
/// long as Retry-After asks.
struct UploadStateMachine<Random: RandomNumberGenerator> {
    /// A leased resource with the entry built for it, nil when its body cannot be sent at all.
    struct Candidate: Sendable, Equatable {
        var item: OutboxItem
        var entry: Bundle.Entry?

        init(item: OutboxItem, entry: Bundle.Entry?) {
            self.item = item
            self.entry = entry
        }
    }

    /// What came back for the last `send`.
    enum Reply: Sendable, Equatable {
        case transportFailed(UpstreamTransportError)
        case response(status: Int, retryAfter: Duration?, body: ReplyBody)
    }

    enum ReplyBody: Sendable, Equatable {
        case bundle(Bundle)
        case outcome(OperationOutcome)
        case other
    }

    /// Settle these now, then do `next`.
    struct Step: Sendable, Equatable {
        var settle: [OutboxSettlement]
        var next: Next
    }

    enum Next: Sendable, Equatable {
        /// Send these candidates as one bundle.
        case send([Candidate])
        /// The lease is fully settled; wait `pause` (backoff) before leasing again.
        case done(pause: Duration?)
    }

    let policy: RetryPolicy
    let bundleType: UploadSettings.BundleType
    private(set) var random: Random
    /// Failed requests in a row; reset by any 2xx reply.
    private(set) var consecutiveFailures = 0
    /// Groups still to send, front first, and the group in flight.
    private var queue: [[Candidate]] = []
    private var inFlight: [Candidate] = []

    init(policy: RetryPolicy, bundleType: UploadSettings.BundleType, random: Random) {
        self.policy = policy
        self.bundleType = bundleType
        self.random = random
    }

    /// Starts a new lease. Repeated identities are kept for a later lease (never two entries for
    /// one identity in a bundle); unsendable bodies are rejected.
    mutating func leased(_ candidates: [Candidate], now: Timestamp) -> Step {
        queue.removeAll()
        inFlight.removeAll()
        var settle: [OutboxSettlement] = []
        var seen = Set<String>()
        var group: [Candidate] = []
        for candidate in candidates {
            guard seen.insert(candidate.item.resource.identityKey).inserted else {
                settle.append(OutboxSettlement(candidate.item.id, .keep(retryAt: nil)))
                continue
            }
            guard candidate.entry != nil else {
                settle.append(OutboxSettlement(candidate.item.id, .reject(
                    errorType: "invalid-resource", errorMessage: "the stored resource is not valid JSON and cannot be sent")))
                continue
            }
            group.append(candidate)
        }
        if bundleType == .single {
            queue = group.map { [$0] }
        } else if !group.isEmpty {
            queue.append(group)
        }
        return Step(settle: settle, next: sendNext())
    }

    /// The reply to the last `send`.
    mutating func replied(_ reply: Reply, now: Timestamp) -> Step {
        switch reply {
        case .transportFailed(let error):
            if error.kind == .cancelled {
                // Shutting down: hand everything back at once, no penalty.
                return Step(settle: keepRemaining(until: nil), next: .done(pause: nil))
            }
            return failWhole(retryAfter: nil, now: now)
        case .response(let status, let retryAfter, let body):
            if (200..<300).contains(status) {
                consecutiveFailures = 0
                let settle = settleSuccess(body, now: now)
                return Step(settle: settle, next: sendNext())
            }
            let hasOutcome = if case .outcome = body { true } else { false }
            switch Classification.entry(status: status, hasOperationOutcome: hasOutcome) {
            case .accept, .keep:
                return failWhole(retryAfter: retryAfter, now: now)
            case .reject:
                // A 4xx is an answer: the server is reachable and working.
                consecutiveFailures = 0
                if inFlight.count > 1 {
                    let half = inFlight.count / 2
                    queue.insert(contentsOf: [Array(inFlight[..<half]), Array(inFlight[half...])], at: 0)
                    inFlight.removeAll()
                    return Step(settle: [], next: sendNext())
                }
                let settle = inFlight.map { OutboxSettlement($0.item.id, Self.rejection(status: status, body: body)) }
                inFlight.removeAll()
                return Step(settle: settle, next: sendNext())
            }
        }
    }

    /// A request outside the bundle (identity resolution) found the server failing: count it
    /// like a failed bundle and say how long to pause.
    mutating func failedWithoutBundle(retryAfter: Duration?) -> Duration {
        consecutiveFailures += 1
        return UploadBackoff.wait(policy, failures: consecutiveFailures, retryAfter: retryAfter, using: &random)
    }

    private mutating func sendNext() -> Next {
        guard !queue.isEmpty else { return .done(pause: nil) }
        inFlight = queue.removeFirst()
        return .send(inFlight)
    }

    /// The whole request failed for a reason that is not the resources' fault: keep everything
    /// unsettled, pause.
    private mutating func failWhole(retryAfter: Duration?, now: Timestamp) -> Step {
        consecutiveFailures += 1
        let pause = UploadBackoff.wait(policy, failures: consecutiveFailures, retryAfter: retryAfter, using: &random)
        return Step(settle: keepRemaining(until: now.adding(milliseconds: pause.wholeMilliseconds)), next: .done(pause: pause))
    }

    private mutating func keepRemaining(until retryAt: Timestamp?) -> [OutboxSettlement] {
        let remaining = inFlight + queue.joined()
        inFlight.removeAll()
        queue.removeAll()
        return remaining.map { OutboxSettlement($0.item.id, .keep(retryAt: retryAt)) }
    }

    private mutating func settleSuccess(_ body: ReplyBody, now: Timestamp) -> [OutboxSettlement] {
        defer { inFlight.removeAll() }
        var responses: [Bundle.Response?] = []
        if case .bundle(let bundle) = body, bundle.entry.count == inFlight.count {
            responses = bundle.entry.map(\.response)
        }
        if bundleType != .batch {
            // All or nothing: a 2xx means every entry committed (a single request has one).
            return inFlight.enumerated().map { index, candidate in
                let response = index < responses.count ? responses[index] : nil
                let version = ServerVersion(location: response?.location, etag: response?.etag)
                return OutboxSettlement(candidate.item.id, .accept(serverID: version.id, serverVersion: version.version))
            }
        }
        guard responses.count == inFlight.count else {
            // A batch reply that does not say what became of each entry: send them again.
            return inFlight.map { OutboxSettlement($0.item.id, .keep(retryAt: itemRetry($0.item, now: now))) }
        }
        return zip(inFlight, responses).map { candidate, response in
            guard let response, let status = response.statusCode else {
                return OutboxSettlement(candidate.item.id, .keep(retryAt: itemRetry(candidate.item, now: now)))
            }
            let outcome = response.outcome.flatMap { try? OperationOutcome(json: $0, path: "outcome") }
            switch Classification.entry(status: status, hasOperationOutcome: outcome != nil) {
            case .accept:
                let version = ServerVersion(location: response.location, etag: response.etag)
                return OutboxSettlement(candidate.item.id, .accept(serverID: version.id, serverVersion: version.version))
            case .reject:
                return OutboxSettlement(candidate.item.id, Self.rejection(status: status, body: outcome.map { .outcome($0) } ?? .other))
            case .keep:
                return OutboxSettlement(candidate.item.id, .keep(retryAt: itemRetry(candidate.item, now: now)))
            }
        }
    }

    /// An entry kept on its own (its neighbours succeeded) backs off by its own attempt count.
    private mutating func itemRetry(_ item: OutboxItem, now: Timestamp) -> Timestamp {
        now.adding(milliseconds: UploadBackoff.delay(policy, failures: max(1, item.attempts), using: &random).wholeMilliseconds)
    }

    static func rejection(status: Int, body: ReplyBody) -> OutboxOutcome {
        let message: String = if case .outcome(let outcome) = body, !outcome.issue.isEmpty {
            outcome.summary
        } else {
            "HTTP \(status) without an OperationOutcome"
        }
        return .reject(errorType: "upstream-\(status)", errorMessage: message)
    }
}
