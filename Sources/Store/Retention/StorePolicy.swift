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
public struct StorePolicy: Sendable, Equatable {
    public enum WhenFull: Sendable, Equatable {
        /// Refuse new messages until uploads or the operator free space (the default).
        case refuseNewData
        /// Evict the oldest unsynced rows to make room, and also any older than `olderThan`
        /// when set; each eviction is journaled.
        case evictOldestUnsynced(olderThan: Duration?)
    }

    /// Bound on stored payload, body and dead-letter bytes (the database file is somewhat larger).
    public var maxBytes: Int64
    public var retainSynced: Duration
    public var whenFull: WhenFull

    public init(maxBytes: Int64, retainSynced: Duration = .seconds(7 * 86_400), whenFull: WhenFull = .refuseNewData) {
        self.maxBytes = maxBytes
        self.retainSynced = retainSynced
        self.whenFull = whenFull
    }

    /// 1 GiB, synced data kept for 7 days, refuse when full.
    public static let standard = StorePolicy(maxBytes: 1 << 30)
}
