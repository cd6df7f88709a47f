import EdgeCore
/// How much the store may hold and what happens when it is full. Chosen by the operator in
/// configuration; there is no implicit dropping of data.
///
/// Synced data (mapped messages whose resources were all sent, and sent resources) is evicted by
/// retention: once older than `retainSynced`, and oldest first whenever the store is over
/// `maxBytes`. Unsynced data (messages waiting for mapping, resources waiting for upload, dead
/// letters) is evicted only if `whenFull` says so, and then every eviction is journaled;
/// otherwise the store refuses new messages with `StoreError.Code.highWaterMark` and ingest
/// answers 503.
package struct StorePolicy: Sendable, Equatable {
    package enum WhenFull: Sendable, Equatable {
        /// Refuse new messages until uploads or the operator free space (the default).
        case refuseNewData
        /// Evict the oldest unsynced rows to make room, and also any older than `olderThan`
        /// when set; each eviction is journaled.
        case evictOldestUnsynced(olderThan: Duration?)
    }

    /// Bound on stored payload, body and dead-letter bytes (the database file is somewhat larger).
    package var maxBytes: Int64
    package var retainSynced: Duration
    package var whenFull: WhenFull
    package var journal: JournalBounds

    /// How much journal the store keeps. Retention removes the oldest entries beyond either bound
    /// and keeps, in their place, the hash they chained to and a journaled record of what went.
    package struct JournalBounds: Sendable, Equatable {
        /// Bound on journal bytes (rows as stored), apart from `maxBytes`.
        package var maxBytes: Int64
        /// Entries older than this are removed; nil keeps them while they fit.
        package var retain: Duration?
        package init(maxBytes: Int64, retain: Duration? = nil) {
            self.maxBytes = maxBytes
            self.retain = retain
        }
    }

    package init(maxBytes: Int64, retainSynced: Duration = .seconds(7 * 86_400), whenFull: WhenFull = .refuseNewData,
                journal: JournalBounds? = nil) {
        self.maxBytes = maxBytes
        self.retainSynced = retainSynced
        self.whenFull = whenFull
        // Unbounded unless asked: a store opened by a tool must not prune what the daemon keeps.
        self.journal = journal ?? JournalBounds(maxBytes: .max)
    }

    /// 1 GiB, synced data kept for 7 days, refuse when full.
    package static let standard = StorePolicy(maxBytes: 1 << 30)
}
