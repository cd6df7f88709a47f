package import EdgeCore
import FoundationEssentials
import CSQLite
import EdgeSystem
import Glibc
import JSONQuery
import Synchronization

/// The gateway's durable buffer: one SQLite database in WAL mode holding the inbox of raw
/// messages, the outbox of FHIR resources, dead letters and the hash-chained journal.
///
/// One `Store` per process owns writing; its pool serialises writes on one writer connection and
/// every operation is one transaction, so each operation's journal entries commit or roll back
/// with the change they describe. Other processes read through `StoreReader.openReadOnly(path:)`
/// while the daemon runs (`fhir-edge queue stats`, `audit verify`); a command that must write
/// (replaying dead letters) opens its own `Store`, and SQLite's lock serialises it with the
/// daemon (immediate transactions, 10 s busy timeout). Only the daemon calls `resumeAfterRestart`.
///
/// Durability: `synchronous = FULL`. In WAL mode NORMAL survives a process kill but can lose the
/// last committed transactions on power loss; an acknowledged message must survive both, so
/// every commit waits for the WAL fsync. Callers amortise it by committing a whole HTTP request
/// or BLE/Modbus batch in one `append`, and appends that arrive while another commits share the
/// next transaction and its fsync (`GroupCommit`).
package final class Store: Sendable {
    let pool: DatabasePool
    let policy: StorePolicy
    let chain: any JournalChain
    let now: @Sendable () -> Timestamp
    let fields: StoreFields
    let encryption: StoreEncryption?
    /// Reads from this process, on the same pool.
    package let reader: StoreReader
    package let path: String
    /// Set when a write failed for want of disk space, cleared by a write that succeeds with at
    /// least 1 MiB free again: `/health` reports it meanwhile.
    private let diskFull = Atomic<Bool>(false)
    /// Inbox appends waiting for, or in, their group's transaction.
    let appends = GroupCommit<PendingAppend, AppendOutcome>()

    package var isDiskFull: Bool { diskFull.load(ordering: .relaxed) }

    /// Transactions begun for inbox appends, and the appends they held: more appends than
    /// transactions means requests shared commits. For tests and benchmarks.
    package var appendCommits: (transactions: Int, appends: Int) {
        let counts = appends.counts
        return (counts.groups, counts.requests)
    }

    /// Appends queued behind the transaction being committed.
    package var appendsWaiting: Int { appends.waiting }

    /// Opens (creating and migrating when needed) the store at `path`.
    /// - Parameters:
    ///   - chain: computes journal hashes; the audit module's `AuditChain` in production.
    ///   - now: the clock; every time the store records comes from it.
    ///   - encryption: the key that encrypts patient data at rest. A clear store opened with one
    ///     is encrypted in place (one transaction, then vacuumed so no clear page remains); an
    ///     encrypted store opened without one, or with another key, throws `.keyRequired` or
    ///     `.wrongKey` before anything changes. Without it a new store keeps rows in clear.
    package init(
        path: String, policy: StorePolicy, chain: some JournalChain, now: @escaping @Sendable () -> Timestamp,
        encryption: StoreEncryption? = nil
    ) throws(StoreError) {
        let fields: StoreFields
        do {
            try StoreFiles.prepare(path: path)
            let pool = try DatabasePool(path: path)
            // FULL on the one persistent writer connection; readers never commit.
            // The WAL shrinks back to 64 MiB after a burst has been checkpointed.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864")
            }
            try StoreSchema.migrator.migrate(pool)
            let (opened, sealed) = try pool.write { db in
                let (fields, sealed) = try StoreKeying.fieldsForWriting(db, encryption: encryption, path: path)
                if let sealed, let keying = fields.journal {
                    // The first entry of the keyed chain.
                    try JournalTable.append([JournalEvent(kind: .storeEncrypted, actor: "store", details: [
                        "keyID": .string(encryption?.keyEncryptionKey.id ?? ""), "rows": .int(Int64(sealed)),
                    ])], at: now(), chain: KeyedJournalChain(base: chain, keying: keying), db)
                }
                return (fields, sealed)
            }
            if sealed != nil {
                // The clear pages of the rows just sealed are still in the file and the WAL.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                    try db.execute(sql: "VACUUM")
                    try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                }
            }
            try StoreFiles.restrict(path: path)
            fields = opened
            self.pool = pool
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.notAStore, "cannot open or migrate the store; check the path, its permissions and free disk space",
                location: path, cause: error)
        }
        self.path = path
        self.policy = policy
        self.chain = fields.journal.map { KeyedJournalChain(base: chain, keying: $0) } ?? chain
        self.now = now
        self.fields = fields
        self.encryption = encryption
        self.reader = StoreReader(pool: pool, fields: fields)
    }

    /// Whether the store at `path` exists and holds encrypted rows; reads only.
    package static func encryptionState(path: String) throws(StoreError) -> StoreEncryptionState {
        guard FileManager.default.fileExists(atPath: path) else { return .absent }
        do {
            let pool = try DatabasePool(path: path, readonly: true, maxReaders: 1)
            defer { try? pool.close() }
            return try pool.read { db in
                guard try db.tableExists("store_meta") else { return .clear }
                return try StoreKeying.state(db)
            }
        } catch {
            throw StoreError(.notAStore, "cannot read the store to see whether it is encrypted", location: path, cause: error)
        }
    }

    /// Rotates the store's keys in one transaction: the data key is wrapped under `newKey`; with
    /// `newDataKey` every encrypted row is first sealed again under a fresh data key. Either all
    /// of it commits or nothing does. Returns the rows rewritten. Call with the daemon stopped,
    /// and close this store afterwards: it keeps the keys it was opened with.
    package func rekey(to newKey: KeyEncryptionKey, newDataKey: Bool, actor: String) async throws(StoreError) -> Int {
        guard let encryption else { throw StoreKeying.keyRequired(path) }
        let (chain, time, path) = (self.chain, now(), self.path)
        let rows = try await write("rekey") { db in
            let rows = try StoreKeying.rekey(db, current: encryption, newKey: newKey, newDataKey: newDataKey, path: path)
            let event = JournalEvent(kind: .storeRekeyed, actor: actor, details: [
                "keyID": .string(newKey.id), "newDataKey": .bool(newDataKey), "rows": .int(Int64(rows)),
            ])
            try JournalTable.append([event], at: time, chain: chain, db)
            return rows
        }
        if newDataKey {
            do {
                try await pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                    try db.execute(sql: "VACUUM")
                    try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                }
            } catch {
                throw StoreError(.database, "the keys were rotated but the old ciphertext could not be vacuumed away; run rekey again",
                    location: path, cause: error)
            }
        }
        return rows
    }

    /// Closes the connections; later calls fail. Call after the pipeline has stopped.
    package func close() throws(StoreError) {
        do { try pool.close() } catch {
            throw StoreError(.database, "could not close the store cleanly", location: path, cause: error)
        }
    }

    /// Appends caller-defined journal entries (operator access, configuration changes) in their
    /// own transaction.
    package func journal(_ events: [JournalEvent]) async throws(StoreError) {
        let chain = self.chain
        let time = now()
        try await write("journal") { db in
            try JournalTable.append(events, at: time, chain: chain, db)
        }
    }

    /// Statistics as of now, by the store's clock.
    package func statistics() async throws(StoreError) -> StoreStatistics {
        try await reader.statistics(at: now())
    }

    /// Hands back inbox claims and outbox leases of a previous process. Call once at daemon
    /// start, before the mapping stage and the uploader run; never from a second process.
    @discardableResult
    package func resumeAfterRestart() async throws(StoreError) -> (inbox: Int, outbox: Int) {
        let chain = self.chain
        let time = now()
        return try await write("resume") { db in
            try db.execute(sql: "UPDATE inbox SET state = 'pending' WHERE state = 'claimed'")
            let inbox = db.changesCount
            try db.execute(sql: "UPDATE outbox SET state = 'pending', lease_id = NULL, lease_expires_at = NULL WHERE state = 'leased'")
            let outbox = db.changesCount
            if inbox + outbox > 0 {
                try JournalTable.append(
                    [JournalEvent(kind: .workResumed, actor: "gateway", details: ["inbox": .int(Int64(inbox)), "outbox": .int(Int64(outbox))])],
                    at: time, chain: chain, db)
            }
            return (inbox, outbox)
        }
    }

    /// The writer connection's journal mode and synchronous level, for `fhir-edge doctor`:
    /// expected `wal` and 2 (FULL).
    package func durabilitySettings() async throws(StoreError) -> (journalMode: String, synchronous: Int) {
        try await write("read durability settings") { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }

    /// Runs `body` in one write transaction, mapping failures to `StoreError`.
    func write<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            let value = try await pool.write(body)
            // A small write may fit where intake's did not: full until there is room again.
            if diskFull.load(ordering: .relaxed), !Self.nearlyFull(path) { diskFull.store(false, ordering: .relaxed) }
            return value
        } catch let error as StoreError {
            throw error
        } catch is CancellationError {
            throw StoreError(.cancelled, "\(operation) was cancelled; the transaction was rolled back", location: path)
        } catch let error as DatabaseError where error.resultCode == SQLITE_FULL || (error.resultCode == SQLITE_IOERR && Self.nearlyFull(path)) {
            diskFull.store(true, ordering: .relaxed)
            throw StoreError(.diskFull, "\(operation) failed: the disk holding the store is full; the transaction was rolled back, "
                + "nothing is lost, and writing resumes by itself once space is freed", location: path, cause: error)
        } catch {
            throw StoreError(.database, "\(operation) failed; the transaction was rolled back", location: path, cause: error)
        }
    }

    /// Whether the file system of `path` has less than 1 MiB free: SQLite reports some writes
    /// that ENOSPC failed as I/O errors rather than SQLITE_FULL.
    static func nearlyFull(_ path: String) -> Bool {
        var stats = statvfs()
        guard statvfs(FilePaths.directory(of: path), &stats) == 0 else { return false }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize) < 1 << 20
    }
}

extension Store {
    /// Wall-clock time, for the composition root to inject; logic takes the clock it is given.
    package static let systemClock: @Sendable () -> Timestamp = {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
