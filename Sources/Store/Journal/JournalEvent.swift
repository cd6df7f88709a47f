package import EdgeCore
package import JSONQuery

/// What happened, as the journal records it: identifiers and counts only, never payloads or
/// patient data.
package struct JournalEvent: Sendable, Equatable {
    package var kind: JournalKind
    /// Who acted: `gateway`, `uploader`, `operator`, `http:<client id>`, ...
    package var actor: String
    package var subjects: [JournalSubject]
    package var details: JSONObject

    package init(kind: JournalKind, actor: String, subjects: [JournalSubject] = [], details: JSONObject = JSONObject()) {
        self.kind = kind
        self.actor = actor
        self.subjects = subjects
        self.details = details
    }
}

/// The kind of a journal entry. Open-ended so that callers can journal their own steps
/// (operator access, configuration reloads) next to the store's own entries.
package struct JournalKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package var description: String { rawValue }

    package static let inboxReceived = JournalKind("inbox.received")
    package static let mappingCompleted = JournalKind("mapping.completed")
    package static let deadLetterCreated = JournalKind("deadletter.created")
    package static let deadLetterReplayed = JournalKind("deadletter.replayed")
    package static let deadLetterDiscarded = JournalKind("deadletter.discarded")
    package static let outboxSent = JournalKind("outbox.sent")
    package static let outboxRejected = JournalKind("outbox.rejected")
    package static let outboxKept = JournalKind("outbox.kept")
    /// Synced data removed by retention (one summary entry per pass).
    package static let retentionEvicted = JournalKind("retention.evicted")
    /// Unsynced data removed because the operator configured eviction (one entry per row).
    package static let unsyncedEvicted = JournalKind("store.evicted")
    package static let highWaterReached = JournalKind("store.highwater.reached")
    package static let highWaterCleared = JournalKind("store.highwater.cleared")
    /// Claims and leases of a previous process handed back after a restart.
    package static let workResumed = JournalKind("store.resumed")
    /// A store kept in clear was encrypted in place on its first start with a key.
    package static let storeEncrypted = JournalKind("store.encrypted")
    /// The data key was wrapped under a new key (and, on request, every row sealed anew).
    package static let storeRekeyed = JournalKind("store.rekeyed")
    /// A signed statement of the chain up to the entry before it (`JournalCheckpoint`).
    package static let journalCheckpoint = JournalKind("journal.checkpoint")
    /// Entries up to a point were removed by journal retention; what they chained to is kept.
    package static let journalPruned = JournalKind("journal.pruned")
    /// A field kit was written (`fhir-edge export --to`): its id, sequence, range and count.
    package static let kitExported = JournalKind("kit.exported")
    /// A field kit was verified and its resources queued for upload (`fhir-edge import`).
    package static let kitImported = JournalKind("kit.imported")
    /// An importing gateway's acknowledgement marked exported resources as delivered.
    package static let kitReconciled = JournalKind("kit.reconciled")
    /// The wall clock moved against the monotonic clock by more than the watch's tolerance.
    package static let clockJumped = JournalKind("clock.jumped")
    /// The clock's synchronisation state changed (or was first seen) (`details.state`).
    package static let clockSync = JournalKind("clock.sync")
}

/// A thing a journal entry is about, written `type/id` (`inbox/12`, `device/ab:cd`).
package struct JournalSubject: Hashable, Sendable, CustomStringConvertible {
    package var type: String
    package var id: String

    package init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    /// Parses `type/id`; the id may itself contain slashes.
    package init?(_ text: String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex else { return nil }
        self.type = String(text[..<slash])
        self.id = String(text[text.index(after: slash)...])
    }

    package var description: String { "\(type)/\(id)" }

    package static func inbox(_ id: InboxID) -> Self { Self(type: "inbox", id: String(id.rawValue)) }
    package static func outbox(_ id: OutboxID) -> Self { Self(type: "outbox", id: String(id.rawValue)) }
    package static func deadLetter(_ id: DeadLetterID) -> Self { Self(type: "deadletter", id: String(id.rawValue)) }
    package static func device(_ id: String) -> Self { Self(type: "device", id: id) }
}

/// One journal entry as it is chained: the event with its place and time.
package struct JournalEntry: Sendable, Equatable {
    package var sequence: Int64
    package var time: Timestamp
    package var kind: JournalKind
    package var actor: String
    package var subjects: [JournalSubject]
    package var details: JSONObject

    package init(sequence: Int64, time: Timestamp, event: JournalEvent) {
        self.sequence = sequence
        self.time = time
        self.kind = event.kind
        self.actor = event.actor
        self.subjects = event.subjects
        self.details = event.details
    }
}

/// A stored journal entry with its chain hash.
package struct JournalRecord: Sendable, Equatable {
    package var entry: JournalEntry
    /// Lowercase hex.
    package var hash: String

    package init(entry: JournalEntry, hash: String) {
        self.entry = entry
        self.hash = hash
    }
}

/// The last entry the store appended, kept apart from the journal rows so that removing
/// entries from the end of the journal is detected too.
package struct JournalHead: Sendable, Equatable {
    package var sequence: Int64
    package var hash: String
    /// In an encrypted store, the journal key's tag over (sequence, hash) (`StoreReader.isAuthentic`).
    package var tag: String?

    package init(sequence: Int64, hash: String, tag: String? = nil) {
        self.sequence = sequence
        self.hash = hash
        self.tag = tag
    }
}

/// Computes the chain hash of an entry from the hash before it. The store calls it inside the
/// transaction that appends the entry; the audit module supplies the implementation and
/// verifies with the same one.
package protocol JournalChain: Sendable {
    /// `previous` is nil for the first entry of the journal.
    func hash(of entry: JournalEntry, previous: String?) -> String
}
