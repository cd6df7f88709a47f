import EdgeCore

/// What the status page shows, gathered from the monitor, acquisition health, the uploader and
/// the store. Identifiers, counts, times and error types only: no payload, no patient identifier
/// and no error message text (which may quote a message) ever reaches it.
struct StatusPageModel: Sendable {
    struct Viewer: Sendable {
        var client: String
        var roles: Set<GatewayConfiguration.Role>
        var csrfToken: String
        /// False in demo mode on loopback, where the page needs no sign-in.
        var signedIn: Bool

        func may(_ action: APIAction) -> Bool { action.allowed(for: roles) }
    }

    struct Upstream: Sendable {
        var url: String
        var running: Bool
        var consecutiveFailures: Int
        var backoffUntil: Timestamp?
        var lastSuccess: Timestamp?
        var lastError: String?
        var requests: Int
    }

    struct Queue: Sendable {
        var inbox: Int64
        var outboxPending: Int64
        var deadLetters: Int64
        var bytes: Int64
        var highWaterBytes: Int64
        var maxBytes: Int64
        var oldestUnsentSeconds: Double?
        var maxAgeSeconds: Double?
        var atHighWaterMark: Bool
    }

    struct Device: Sendable {
        var id: String
        var transport: String
        var profile: String
        var lastSeen: Timestamp?
        var readingsToday: Int64
        var state: String?
        var lastError: String?
        var lastErrorAt: Timestamp?
        var battery: Double?
    }

    struct DeadLetterReason: Sendable {
        var stage: String
        var errorType: String
        var count: Int
    }

    struct DeadLetter: Sendable {
        var id: Int64
        var createdAt: Timestamp
        var stage: String
        var errorType: String
        var device: String?
        var profile: String?
        var replayCount: Int
    }

    struct Disk: Sendable {
        var path: String
        var freeBytes: Int64
        var totalBytes: Int64
        var storeFileBytes: Int64
    }

    struct JournalLine: Sendable {
        var sequence: Int64
        var time: Timestamp
        var kind: String
        var actor: String
    }

    var viewer: Viewer
    var health: String
    var healthReason: String?
    var version: String
    var startedAt: Timestamp
    var now: Timestamp
    var clock: ClockState
    var upstream: Upstream?
    var queue: Queue?
    var devices: [Device]
    var deadLetterReasons: [DeadLetterReason]
    var deadLetters: [DeadLetter]
    /// How many dead letters the reasons were counted over, when fewer than all.
    var deadLettersCounted: Int?
    var disk: Disk?
    var journal: [JournalLine]?
    var notice: String?
    var tls: Bool
}
