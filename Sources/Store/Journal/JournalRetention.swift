import EdgeCore
import JSONQuery

/// Journal retention: removes the oldest entries beyond the journal's byte bound or age, in one
/// transaction with (1) moving `journal_base` to the last removed entry and its hash, tagged with
/// the journal key, and (2) appending a `journal.pruned` entry that says what went (sequence
/// range, times, bytes) and signs the hash it chained to. The chain therefore still verifies
/// from the base, and a prefix cut by anyone else is found: entries missing below the first one,
/// or a base whose tag does not match.
enum JournalRetention {
    static let baseTagKey = "journal_base_tag"
    /// Prune down to this share of the bound, so that retention does not run on every append.
    static let lowWater = 0.9

    static func base(_ db: Database) throws -> JournalHead? {
        guard let row = try Row.fetchOne(db, sql: "SELECT value, text FROM store_meta WHERE key = 'journal_base'") else { return nil }
        let sequence: Int64 = row["value"]
        guard sequence > 0, let hash: String = row["text"] else { return nil }
        let tag = try String.fetchOne(db, sql: "SELECT text FROM store_meta WHERE key = ?", arguments: [baseTagKey])
        return JournalHead(sequence: sequence, hash: hash, tag: tag)
    }

    struct Pruned: Equatable { var entries: Int64; var bytes: Int64 }

    /// Removes what the bounds say; returns what went. Keeps at least the newest entry.
    static func prune(_ bounds: StorePolicy.JournalBounds, time: Timestamp, chain: any JournalChain, _ db: Database) throws -> Pruned {
        let bytes = try Meta.value(.journalBytes, db)
        guard let head = try JournalTable.head(db) else { return Pruned(entries: 0, bytes: 0) }
        var through: Int64 = 0
        if bytes > bounds.maxBytes {
            let excess = bytes - Int64(Double(bounds.maxBytes) * lowWater)
            through = try Int64.fetchOne(db, sql: """
                SELECT seq FROM (SELECT seq, SUM(length(kind) + length(actor) + length(subjects) + length(details) + length(hash) + 24)
                    OVER (ORDER BY seq) AS running FROM journal)
                WHERE running >= ? ORDER BY seq LIMIT 1
                """, arguments: [excess]) ?? head.sequence
        }
        if let retain = bounds.retain {
            let cutoff = time.millisecondsSinceEpoch - retain.wholeMilliseconds
            let old = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM journal WHERE time < ?", arguments: [cutoff]) ?? 0
            through = max(through, old)
        }
        through = min(through, head.sequence - 1)
        let previousBase = try Meta.value(.journalBase, db)
        guard through > previousBase,
              let last = try Row.fetchOne(db, sql: "SELECT hash, time FROM journal WHERE seq = ?", arguments: [through]),
              let first = try Row.fetchOne(db, sql: "SELECT seq, time FROM journal WHERE seq > ? ORDER BY seq LIMIT 1", arguments: [previousBase])
        else { return Pruned(entries: 0, bytes: 0) }
        let hash: String = last["hash"]
        let keyed = chain as? KeyedJournalChain
        try Meta.set(.journalBase, through, text: hash, db)
        if let keyed {
            try db.execute(sql: "INSERT OR REPLACE INTO store_meta(key, value, text) VALUES (?, 0, ?)",
                           arguments: [baseTagKey, keyed.keying.baseTag(sequence: through, hash: hash)])
        }
        try db.execute(sql: "DELETE FROM journal WHERE seq <= ?", arguments: [through])
        let removed = through - previousBase
        let freed = bytes - (try Meta.value(.journalBytes, db))
        var details = try JournalCheckpoint.details(through: through, hash: hash, keying: keyed?.keying)
        details["from"] = .int(first["seq"])
        details["entries"] = .int(removed)
        details["bytes"] = .int(freed)
        details["oldest"] = .string(Timestamp(millisecondsSinceEpoch: first["time"]).iso8601)
        details["newest"] = .string(Timestamp(millisecondsSinceEpoch: last["time"]).iso8601)
        try JournalTable.append([JournalEvent(kind: .journalPruned, actor: "store", details: details)], at: time, chain: chain, db)
        return Pruned(entries: removed, bytes: freed)
    }
}
