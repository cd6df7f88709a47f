public import EdgeCore
public import JSONQuery

/// What happened, as the journal records it: identifiers and counts only, never payloads or
/// patient data.
public struct JournalEvent: Sendable, Equatable {
    public var kind: JournalKind
    /// Who acted: `gateway`, `uploader`, `operator`, `http:<client id>`, ...
    public var actor: String
    public var subjects: [JournalSubject]
    public var details: JSONObject

    public init(kind: JournalKind, actor: String, subjects: [JournalSubject] = [], details: JSONObject = JSONObject()) {
        self.kind = kind
        self.actor = actor
        self.subjects = subjects
        self.details = details
    }
}

/// The kind of a journal entry. Open-ended so that callers can journal their own steps
/// (operator access, configuration reloads) next to the store's own entries.
public struct JournalKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let inboxReceived = JournalKind("inbox.received")
    public static let mappingCompleted = JournalKind("mapping.completed")
    public static let deadLetterCreated = JournalKind("deadletter.created")
    public static let deadLetterReplayed = JournalKind("deadletter.replayed")
    public static let deadLetterDiscarded = JournalKind("deadletter.discarded")
    public static let outboxSent = JournalKind("outbox.sent")
    public static let outboxRejected = JournalKind("outbox.rejected")
    public static let outboxKept = JournalKind("outbox.kept")
    /// Synced data removed by retention (one summary entry per pass).
    public static let retentionEvicted = JournalKind("retention.evicted")
    /// Unsynced data removed because the operator configured eviction (one entry per row).
    public static let unsyncedEvicted = JournalKind("store.evicted")
    public static let highWaterReached = JournalKind("store.highwater.reached")
    public static let highWaterCleared = JournalKind("store.highwater.cleared")
    /// Claims and leases of a previous process handed back after a restart.
    public static let workResumed = JournalKind("store.resumed")
    /// A store kept in clear was encrypted in place on its first start with a key.
    public static let storeEncrypted = JournalKind("store.encrypted")
    /// The data key was wrapped under a new key (and, on request, every row sealed anew).
    public static let storeRekeyed = JournalKind("store.rekeyed")
    /// A signed statement of the chain up to the entry before it (`JournalCheckpoint`).
    public static let journalCheckpoint = JournalKind("journal.checkpoint")
    /// Entries up to a point were removed by journal retention; what they chained to is kept.
    public static let journalPruned = JournalKind("journal.pruned")
    /// A field kit was written (`fhir-edge export --to`): its id, sequence, range and count.
    public static let kitExported = JournalKind("kit.exported")
    /// A field kit was verified and its resources queued for upload (`fhir-edge import`).
    public static let kitImported = JournalKind("kit.imported")
    /// An importing gateway's acknowledgement marked exported resources as delivered.
    public static let kitReconciled = JournalKind("kit.reconciled")
    /// The wall clock moved against the monotonic clock by more than the watch's tolerance.
    public static let clockJumped = JournalKind("clock.jumped")
    /// The clock's synchronisation state changed (or was first seen) (`details.state`).
    public static let clockSync = JournalKind("clock.sync")
}

/// A thing a journal entry is about, written `type/id` (`inbox/12`, `device/ab:cd`).
public struct JournalSubject: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    /// Parses `type/id`; the id may itself contain slashes.
    public init?(_ text: String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex else { return nil }
        self.type = String(text[..<slash])
        self.id = String(text[text.index(after: slash)...])
    }

    public var description: String { "\(type)/\(id)" }

    public static func inbox(_ id: InboxID) -> Self { Self(type: "inbox", id: String(id.rawValue)) }
    public static func outbox(_ id: OutboxID) -> Self { Self(type: "outbox", id: String(id.rawValue)) }
    public static func deadLetter(_ id: DeadLetterID) -> Self { Self(type: "deadletter", id: String(id.rawValue)) }
    public static func device(_ id: String) -> Self { Self(type: "device", id: id) }
}

/// One journal entry as it is chained: the event with its place and time.
public struct JournalEntry: Sendable, Equatable {
    public var sequence: Int64
    public var time: Timestamp
    public var kind: JournalKind
    public var actor: String
    public var subjects: [JournalSubject]
    public var details: JSONObject

    public init(sequence: Int64, time: Timestamp, event: JournalEvent) {
        self.sequence = sequence
        self.time = time
        self.kind = event.kind
        self.actor = event.actor
        self.subjects = event.subjects
        self.details = event.details
    }
}

/// A stored journal entry with its chain hash.
public struct JournalRecord: Sendable, Equatable {
    public var entry: JournalEntry
    /// Lowercase hex.
    public var hash: String

    public init(entry: JournalEntry, hash: String) {
        self.entry = entry
        self.hash = hash
    }
}

/// The last entry the store appended, kept apart from the journal rows so that removing
/// entries from the end of the journal is detected too.
public struct JournalHead: Sendable, Equatable {
    public var sequence: Int64
    public var hash: String
    /// In an encrypted store, the journal key's tag over (sequence, hash) (`StoreReader.isAuthentic`).
    public var tag: String?

    public init(sequence: Int64, hash: String, tag: String? = nil) {
        self.sequence = sequence
        self.hash = hash
        self.tag = tag
    }
}

/// Computes the chain hash of an entry from the hash before it. The store calls it inside the
/// transaction that appends the entry; the audit module supplies the implementation and
/// verifies with the same one.
public protocol JournalChain: Sendable {
    /// `previous` is nil for the first entry of the journal.
    func hash(of entry: JournalEntry, previous: String?) -> String
}
