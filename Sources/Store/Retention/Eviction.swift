import EdgeCore
import JSONQuery

/// What a retention pass removed.
package struct RetentionReport: Sendable, Equatable {
    /// Synced rows (mapped messages whose resources were all sent, sent resources).
    package var syncedRows = 0
    package var syncedBytes: Int64 = 0
    /// Unsynced rows, only under `StorePolicy.WhenFull.evictOldestUnsynced`; each one journaled.
    package var unsyncedRows = 0
    package var unsyncedBytes: Int64 = 0
    /// Journal entries removed by journal retention (their chain hash is kept: `journal.pruned`).
    package var journalEntries = 0
    package var journalBytes: Int64 = 0

    package init() {}
}

extension Store {
    /// Evicts synced data older than `retainSynced` and, under an eviction policy, unsynced data
    /// past its age bound or beyond `maxBytes`. Run it periodically; `append` also makes room
    /// on demand.
    @discardableResult
    package func enforceRetention() async throws(StoreError) -> RetentionReport {
        let (policy, chain, time) = (self.policy, self.chain, now())
        return try await write("retention") { db in
            var report = RetentionReport()
            let cutoff = time.millisecondsSinceEpoch - policy.retainSynced.wholeMilliseconds
            let byAge = try Eviction.evict(.synced, olderThan: cutoff, downTo: nil, reason: "age", time: time, chain: chain, db)
            let byBytes = try Eviction.evict(.synced, olderThan: nil, downTo: policy.maxBytes, reason: "bytes", time: time, chain: chain, db)
            // Delivery keys are kept as long as synced data (`Store.receive` ignores older ones).
            try db.execute(sql: "DELETE FROM delivery WHERE received_at < ?", arguments: [cutoff])
            let journal = try JournalRetention.prune(policy.journal, time: time, chain: chain, db)
            report.journalEntries = Int(journal.entries)
            report.journalBytes = journal.bytes
            report.syncedRows = byAge.rows + byBytes.rows
            report.syncedBytes = byAge.bytes + byBytes.bytes
            if case .evictOldestUnsynced(let olderThan) = policy.whenFull {
                var unsynced = (rows: 0, bytes: Int64(0))
                if let olderThan {
                    let cutoff = time.millisecondsSinceEpoch - olderThan.wholeMilliseconds
                    unsynced = try Eviction.evict(.unsynced, olderThan: cutoff, downTo: nil, reason: "age", time: time, chain: chain, db)
                }
                let overflow = try Eviction.evict(.unsynced, olderThan: nil, downTo: policy.maxBytes, reason: "bytes", time: time, chain: chain, db)
                report.unsyncedRows = unsynced.rows + overflow.rows
                report.unsyncedBytes = unsynced.bytes + overflow.bytes
            }
            return report
        }
    }
}

enum Eviction {
    enum Class { case synced, unsynced }

    /// Frees room for `incoming` bytes: synced data first, then unsynced data if the policy
    /// allows. Returns whether the bytes fit.
    static func makeRoom(for incoming: Int64, policy: StorePolicy, time: Timestamp, chain: any JournalChain, _ db: Database) throws -> Bool {
        if try Meta.value(.journalBytes, db) > policy.journal.maxBytes {
            _ = try JournalRetention.prune(policy.journal, time: time, chain: chain, db)
        }
        let target = policy.maxBytes - incoming
        if try Meta.value(.bytes, db) <= target { return true }
        _ = try evict(.synced, olderThan: nil, downTo: target, reason: "bytes", time: time, chain: chain, db)
        if try Meta.value(.bytes, db) <= target { return true }
        guard case .evictOldestUnsynced = policy.whenFull else { return false }
        _ = try evict(.unsynced, olderThan: nil, downTo: target, reason: "bytes", time: time, chain: chain, db)
        return try Meta.value(.bytes, db) <= target
    }

    /// Deletes candidates oldest first: all older than `olderThan` (ms), or until stored bytes are
    /// at most `downTo`. Synced evictions are journaled as one summary, unsynced ones one by one.
    static func evict(_ which: Class, olderThan: Int64?, downTo: Int64?, reason: String,
                      time: Timestamp, chain: any JournalChain, _ db: Database) throws -> (rows: Int, bytes: Int64) {
        var bytes = try Meta.value(.bytes, db)
        var evicted: [(table: String, id: Int64, size: Int64)] = []
        page: while downTo.map({ bytes > $0 }) ?? true {
            let candidates = try Row.fetchAll(db, sql: "SELECT t, id, at, size FROM (\(sql(which))) WHERE at < ? ORDER BY at, id LIMIT 256",
                                              arguments: [olderThan ?? Int64.max])
            if candidates.isEmpty { break }
            for candidate in candidates {
                if let downTo, bytes <= downTo { break page }
                let table: String = candidate["t"]
                let id: Int64 = candidate["id"]
                let size: Int64 = candidate["size"]
                // The table name comes from the fixed query above, never from input.
                try db.execute(sql: "DELETE FROM \(table) WHERE id = ?", arguments: [id])
                bytes -= size
                evicted.append((table, id, size))
            }
        }
        guard !evicted.isEmpty else { return (0, 0) }
        let total = evicted.reduce(Int64(0)) { $0 + $1.size }
        switch which {
        case .synced:
            let inbox = evicted.count { $0.table == "inbox" }
            let event = JournalEvent(kind: .retentionEvicted, actor: "store", details: [
                "reason": .string(reason), "inbox": .int(Int64(inbox)), "outbox": .int(Int64(evicted.count - inbox)), "bytes": .int(total),
            ])
            try JournalTable.append([event], at: time, chain: chain, db)
        case .unsynced:
            let events = evicted.map { row in
                let subject = switch row.table {
                case "inbox": JournalSubject.inbox(InboxID(row.id))
                case "outbox": JournalSubject.outbox(OutboxID(row.id))
                default: JournalSubject.deadLetter(DeadLetterID(row.id))
                }
                return JournalEvent(kind: .unsyncedEvicted, actor: "store", subjects: [subject],
                                    details: ["reason": .string(reason), "bytes": .int(row.size)])
            }
            try JournalTable.append(events, at: time, chain: chain, db)
        }
        return (evicted.count, total)
    }

    private static func sql(_ which: Class) -> String {
        switch which {
        case .synced:
            // A mapped message is synced once none of its resources waits for upload.
            """
            SELECT 'inbox' AS t, i.id AS id, i.received_at AS at, i.size AS size FROM inbox i
            WHERE i.state = 'mapped' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbox_id = i.id AND o.state != 'sent')
            UNION ALL
            SELECT 'outbox', id, sent_at, size FROM outbox WHERE state = 'sent'
            """
        case .unsynced:
            // Claimed messages and leased resources are in the pipeline's hands: never taken away.
            """
            SELECT 'inbox' AS t, id, received_at AS at, size FROM inbox WHERE state = 'pending'
            UNION ALL
            SELECT 'outbox', id, created_at, size FROM outbox WHERE state = 'pending'
            UNION ALL
            SELECT 'dead_letter', id, created_at, size FROM dead_letter
            """
        }
    }
}
