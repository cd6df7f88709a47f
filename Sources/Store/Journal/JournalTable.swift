import EdgeCore
import JSONQuery

/// Reads and appends journal rows. Subjects and details are stored as compact JSON with sorted
/// keys, readable with the sqlite3 command-line tool.
enum JournalTable {
    static func head(_ db: Database) throws -> JournalHead? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT value, text FROM store_meta WHERE key = 'journal_head'")) else { return nil }
        let sequence: Int64 = row["value"]
        guard sequence > 0, let hash: String = row["text"] else { return nil }
        let tag = try String.fetchOne(db.cachedStatement(sql: "SELECT text FROM store_meta WHERE key = ?"),
                                      arguments: [JournalKeying.headTagKey])
        return JournalHead(sequence: sequence, hash: hash, tag: tag)
    }

    /// Appends inside the caller's transaction, chaining from the recorded head.
    static func append(_ events: [JournalEvent], at time: Timestamp, chain: any JournalChain, _ db: Database) throws {
        guard !events.isEmpty else { return }
        let head = try head(db)
        var sequence = head?.sequence ?? 0
        var previous = head?.hash
        let insert = try db.cachedStatement(sql: """
            INSERT INTO journal(seq, time, kind, actor, subjects, details, hash) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        let keyed = chain as? KeyedJournalChain
        // The first entry binds the head tag as stored (a head moved back without the key
        // leaves a stale one); the next ones the tags of the entries just appended.
        var previousTag = head?.tag
        let start = sequence
        var pending = events[...]
        var checkpointed = false
        while let event = pending.popFirst() {
            sequence += 1
            let entry = JournalEntry(sequence: sequence, time: time, event: event)
            let hash = keyed?.hash(of: entry, previous: previous, previousTag: previousTag) ?? chain.hash(of: entry, previous: previous)
            previousTag = keyed?.expectedTag(sequence: sequence, hash: hash)
            try insert.execute(arguments: [
                sequence, time.millisecondsSinceEpoch, event.kind.rawValue, event.actor,
                subjectsText(event.subjects), detailsText(event.details), hash,
            ])
            previous = hash
            // Crossing a multiple of the interval: a checkpoint of the chain so far follows.
            if pending.isEmpty, !checkpointed, sequence / JournalCheckpoint.interval > start / JournalCheckpoint.interval {
                checkpointed = true
                let details = try JournalCheckpoint.details(through: sequence, hash: hash, keying: keyed?.keying)
                pending.append(JournalEvent(kind: .journalCheckpoint, actor: "store", details: details))
            }
        }
        try Meta.set(.journalHead, sequence, text: previous, db)
        if let keyed, let previous {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO store_meta(key, value, text) VALUES (?, 0, ?)")
                .execute(arguments: [JournalKeying.headTagKey, keyed.keying.headTag(sequence: sequence, hash: previous)])
        }
    }

    static func records(after sequence: Int64, limit: Int, _ db: Database) throws -> [JournalRecord] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT seq, time, kind, actor, subjects, details, hash FROM journal WHERE seq > ? ORDER BY seq LIMIT ?
            """, arguments: [sequence, limit])
        return try rows.map(record)
    }

    static func records(since time: Timestamp, after sequence: Int64, limit: Int, _ db: Database) throws -> [JournalRecord] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT seq, time, kind, actor, subjects, details, hash FROM journal WHERE seq > ? AND time >= ? ORDER BY seq LIMIT ?
            """, arguments: [sequence, time.millisecondsSinceEpoch, limit])
        return try rows.map(record)
    }

    private static func record(_ row: Row) throws -> JournalRecord {
        let sequence: Int64 = row["seq"]
        func corrupt(_ what: String) -> StoreError {
            StoreError(.corruptJournal, "journal entry \(sequence) has unreadable \(what); the journal was altered outside fhir-edge",
                location: "journal/\(sequence)")
        }
        guard let time: Int64 = row["time"], let kind: String = row["kind"], let actor: String = row["actor"],
              let subjectsText: String = row["subjects"], let detailsText: String = row["details"],
              let hash: String = row["hash"]
        else { throw corrupt("columns") }
        guard case .array(let subjectValues)? = try? JSONValue(parsing: subjectsText) else { throw corrupt("subjects") }
        var subjects: [JournalSubject] = []
        for value in subjectValues {
            guard let text = value.stringValue, let subject = JournalSubject(text) else { throw corrupt("subjects") }
            subjects.append(subject)
        }
        guard case .object(let details)? = try? JSONValue(parsing: detailsText) else { throw corrupt("details") }
        var entry = JournalEntry(
            sequence: sequence, time: Timestamp(millisecondsSinceEpoch: time),
            event: JournalEvent(kind: JournalKind(kind), actor: actor, subjects: subjects, details: details))
        entry.sequence = sequence
        return JournalRecord(entry: entry, hash: hash)
    }

    private static let canonical = JSONWriter(options: .sortedKeys)

    static func subjectsText(_ subjects: [JournalSubject]) -> String {
        canonical.string(.array(subjects.map { .string($0.description) }))
    }

    static func detailsText(_ details: JSONObject) -> String {
        canonical.string(.object(details))
    }
}
