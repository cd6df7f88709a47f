package import EdgeCore
import FoundationEssentials

/// Reads the store: statistics, dead letters, the outbox as NDJSON and the journal. Works in the
/// daemon (`Store.reader`) and from a second process while the daemon runs (WAL readers never
/// block the writer).
package struct StoreReader: Sendable {
    let pool: DatabasePool
    let fields: StoreFields
    var journal: JournalKeying? { fields.journal }

    init(pool: DatabasePool, fields: StoreFields) {
        self.pool = pool
        self.fields = fields
    }

    /// Opens an existing store read-only, e.g. for `fhir-edge queue stats` or `audit verify`.
    /// An encrypted store needs its key (`.keyRequired`, `.wrongKey` otherwise).
    package static func openReadOnly(path: String, encryption: StoreEncryption? = nil) throws(StoreError) -> StoreReader {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.notAStore, "no store at this path; check `store.path` in the configuration", location: path)
        }
        do {
            let pool = try DatabasePool(path: path, readonly: true)
            let migrated = try pool.read { db in try StoreSchema.migrator.hasCompletedMigrations(db) }
            guard migrated else {
                throw StoreError(.notAStore, "the database is not a fhir-edge store of this version; open it with the daemon first", location: path)
            }
            let fields = try pool.read { db in try StoreKeying.fieldsForReading(db, encryption: encryption, path: path) }
            return StoreReader(pool: pool, fields: fields)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.notAStore, "cannot read the store", location: path, cause: error)
        }
    }

    /// Whether the store's rows are encrypted (it was opened with its key).
    package var isEncrypted: Bool { fields.cipher != nil }

    package func close() throws(StoreError) {
        do { try pool.close() } catch {
            throw StoreError(.database, "could not close the store reader", cause: error)
        }
    }

    package func statistics(at now: Timestamp) async throws(StoreError) -> StoreStatistics {
        try await read("statistics") { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT
                  (SELECT value FROM store_meta WHERE key = 'received') AS received,
                  (SELECT value FROM store_meta WHERE key = 'refused') AS refused,
                  (SELECT value FROM store_meta WHERE key = 'bytes') AS bytes,
                  (SELECT value FROM store_meta WHERE key = 'high_water') AS high_water,
                  (SELECT value FROM store_meta WHERE key = 'journal_head') AS journal,
                  (SELECT value FROM store_meta WHERE key = 'journal_bytes') AS journal_bytes,
                  (SELECT value FROM store_meta WHERE key = 'count_inbox_open') AS inbox,
                  (SELECT value FROM store_meta WHERE key = 'count_outbox_open') AS outbox_pending,
                  (SELECT value FROM store_meta WHERE key = 'count_outbox_sent') AS outbox_sent,
                  (SELECT value FROM store_meta WHERE key = 'count_dead_letters') AS dead_letters,
                  (SELECT MIN(at) FROM (
                      SELECT MIN(received_at) AS at FROM inbox INDEXED BY inbox_open_by_time WHERE state IN ('pending', 'claimed')
                      UNION ALL SELECT MIN(created_at) FROM outbox INDEXED BY outbox_open_by_time WHERE state IN ('pending', 'leased'))) AS oldest
                """)
            guard let row else { return StoreStatistics() }
            let oldest: Int64? = row["oldest"]
            return StoreStatistics(
                received: row["received"] ?? 0, refused: row["refused"] ?? 0, inbox: row["inbox"] ?? 0,
                outboxPending: row["outbox_pending"] ?? 0, outboxSent: row["outbox_sent"] ?? 0,
                deadLetters: row["dead_letters"] ?? 0, bytes: row["bytes"] ?? 0,
                oldestUnsentAge: oldest.map { .milliseconds(max(0, now.millisecondsSinceEpoch - $0)) },
                atHighWaterMark: (row["high_water"] ?? 0) != 0, journalEntries: row["journal"] ?? 0,
                journalBytes: row["journal_bytes"] ?? 0)
        }
    }

    /// Whether the store refuses intake (at its high-water mark): one meta row, whatever the backlog.
    package func isRefusingIntake() async throws(StoreError) -> Bool {
        try await read("health") { db in
            (try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'high_water'") ?? 0) != 0
        }
    }

    /// Dead letters, oldest first, after `after` (for paging), without payloads.
    package func deadLetters(after: DeadLetterID? = nil, limit: Int = 100) async throws(StoreError) -> [DeadLetter] {
        let fields = self.fields
        return try await read("list dead letters") { db in
            try Row.fetchAll(db, sql: """
                SELECT id, origin, origin_id, stage, error_type, error_message, template_version, size, replay_count, created_at,
                    profile, transport, device_id, resource_type, resource_id
                FROM dead_letter WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [after?.rawValue ?? 0, limit]).map { try DeadLetterRow.deadLetter($0, withPayload: false, fields) }
        }
    }

    /// One dead letter with its payload.
    package func deadLetter(_ id: DeadLetterID) async throws(StoreError) -> DeadLetter {
        let fields = self.fields
        let found = try await read("show dead letter") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM dead_letter WHERE id = ?", arguments: [id.rawValue])
                .map { try DeadLetterRow.deadLetter($0, withPayload: true, fields) }
        }
        guard let found else { throw StoreError(.notFound, "no such dead letter", location: id.description) }
        return found
    }

    /// Inbox messages (pending, claimed or mapped) after `after`, oldest first, with their state:
    /// a read for operators and checks that must see payloads of an encrypted store.
    package func inbox(after: InboxID? = nil, limit: Int = 500) async throws(StoreError) -> [(item: InboxItem, state: String)] {
        let fields = self.fields
        return try await read("list inbox") { db in
            try Row.fetchAll(db, sql: """
                SELECT id, profile, transport, source_id, device_id, received_at, device_time, payload, replay_count, state
                FROM inbox WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [after?.rawValue ?? 0, limit]).map { (try InboxRow.item($0, fields), $0[9] as String) }
        }
    }

    /// Writes the bodies of the outbox rows in `states` as NDJSON lines (one compact resource per
    /// line, no trailing newline in the string), oldest first, reading in pages.
    package func exportOutbox(states: Set<OutboxState> = [.pending, .leased], write line: (String) throws -> Void) async throws {
        let list = states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")
        guard !list.isEmpty else { return }
        var after: Int64 = 0
        let fields = self.fields
        while true {
            let start = after
            let page = try await read("export outbox") { db in
                try Row.fetchAll(db, sql: "SELECT id, identity_key, body FROM outbox WHERE id > ? AND state IN (\(list)) ORDER BY id LIMIT 500",
                                 arguments: [start]).map { row in
                    let id: Int64 = row[0]
                    return (id: id, body: try fields.openBody(identityColumn: row[1], body: row[2], id: id).body)
                }
            }
            guard let last = page.last else { return }
            for row in page { try line(row.body) }
            after = last.id
        }
    }

    /// Journal entries with sequence numbers above `after`, in order. A row whose stored JSON
    /// was altered throws `.corruptJournal` naming its sequence number.
    package func journal(after: Int64, limit: Int = 1000) async throws(StoreError) -> [JournalRecord] {
        try await read("read journal") { db in try JournalTable.records(after: after, limit: limit, db) }
    }

    /// Journal entries recorded at or after `since`, with sequence numbers above `after`.
    package func journal(since: Timestamp, after: Int64, limit: Int = 1000) async throws(StoreError) -> [JournalRecord] {
        try await read("read journal") { db in try JournalTable.records(since: since, after: after, limit: limit, db) }
    }

    /// The last entry appended, as the store recorded it apart from the rows.
    package func journalHead() async throws(StoreError) -> JournalHead? {
        try await read("read journal head") { db in try JournalTable.head(db) }
    }

    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch is CancellationError {
            throw StoreError(.cancelled, "\(operation) was cancelled")
        } catch {
            throw StoreError(.database, "\(operation) failed", cause: error)
        }
    }
}

/// Counts for `fhir-edge queue stats`, `/metrics` and health.
package struct StoreStatistics: Sendable, Equatable {
    /// Messages accepted since the store was created.
    package var received: Int64 = 0
    /// Messages refused at the high-water mark.
    package var refused: Int64 = 0
    /// Messages waiting for or in mapping.
    package var inbox: Int64 = 0
    /// Resources waiting for or in upload.
    package var outboxPending: Int64 = 0
    package var outboxSent: Int64 = 0
    package var deadLetters: Int64 = 0
    /// Stored payload, body and dead-letter bytes.
    package var bytes: Int64 = 0
    /// Age of the oldest message or resource not yet uploaded.
    package var oldestUnsentAge: Duration?
    /// The last append was refused for lack of room and none has succeeded since. Informational
    /// (health, metrics): ingest decides by calling `append`, which makes room when it can.
    package var atHighWaterMark = false
    /// Entries appended since the store was created (some may have been removed by journal retention).
    package var journalEntries: Int64 = 0
    /// Journal bytes as stored, bounded by `StorePolicy.journal.maxBytes`.
    package var journalBytes: Int64 = 0

    package init(received: Int64 = 0, refused: Int64 = 0, inbox: Int64 = 0, outboxPending: Int64 = 0, outboxSent: Int64 = 0,
                deadLetters: Int64 = 0, bytes: Int64 = 0, oldestUnsentAge: Duration? = nil, atHighWaterMark: Bool = false,
                journalEntries: Int64 = 0, journalBytes: Int64 = 0) {
        self.received = received
        self.refused = refused
        self.inbox = inbox
        self.outboxPending = outboxPending
        self.outboxSent = outboxSent
        self.deadLetters = deadLetters
        self.bytes = bytes
        self.oldestUnsentAge = oldestUnsentAge
        self.atHighWaterMark = atHighWaterMark
        self.journalEntries = journalEntries
        self.journalBytes = journalBytes
    }
}
