import CSQLite
import Dispatch
import EdgeCore

/// The store's connections to one database file in WAL mode: one writer, whose transactions run
/// one after another on its own queue, and up to `maxReaders` read-only connections, each read
/// in a transaction of its own, so it sees one committed snapshot and never blocks the writer.
///
/// Blocking SQLite calls run on Dispatch queues, never on Swift concurrency's cooperative pool.
final class DatabasePool: Sendable {
    private let writer: Database?
    private let writerQueue = DispatchQueue(label: "fhir-edge.store.writer")
    private let readers: ReaderPool

    /// Opens `path`. Writable: the writer connection switches the file to WAL (creating it when
    /// missing). `readonly`: only readers, for a second process beside the daemon.
    init(path: String, readonly: Bool = false, busyTimeoutMilliseconds: Int32 = 10_000, maxReaders: Int = 4) throws(DatabaseError) {
        if readonly {
            writer = nil
        } else {
            let writer = try Database(path: path, readonly: false, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            do {
                try writer.execute(sql: "PRAGMA journal_mode = WAL")
            } catch let error as DatabaseError {
                throw error
            } catch {
                throw DatabaseError(code: SQLITE_ERROR, message: "\(error)", sql: "PRAGMA journal_mode = WAL")
            }
            self.writer = writer
        }
        readers = ReaderPool(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds, capacity: maxReaders)
    }

    /// Runs `body` in one immediate transaction on the writer.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        let writer = try requireWriter()
        return try writerQueue.sync { try writer.inTransaction(.immediate, body) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = try requireWriter()
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            writerQueue.async {
                continuation.resume(with: Result { try writer.inTransaction(.immediate, body) })
            }
        }
    }

    /// Runs `body` on the writer outside a transaction (pragmas, VACUUM, checkpoints).
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        let writer = try requireWriter()
        return try writerQueue.sync { try body(writer) }
    }

    func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = try requireWriter()
        return try await withCheckedThrowingContinuation { continuation in
            writerQueue.async { continuation.resume(with: Result { try body(writer) }) }
        }
    }

    /// Runs `body` in a read transaction on a reader connection.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try readers.with { try $0.inTransaction(.deferred, body) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let readers = self.readers
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try readers.with { try $0.inTransaction(.deferred, body) } })
            }
        }
    }

    /// Closes every connection; later calls fail.
    func close() throws {
        if let writer { writerQueue.sync { writer.close() } }
        readers.close()
    }

    private func requireWriter() throws(DatabaseError) -> Database {
        guard let writer else { throw DatabaseError(code: SQLITE_READONLY, message: "the store was opened read-only", sql: nil) }
        return writer
    }
}

/// Read-only connections, opened on first need and lent to one read at a time; a read beyond
/// `capacity` waits for one to come back.
private final class ReaderPool: Sendable {
    private let path: String
    private let busyTimeoutMilliseconds: Int32
    private let slots: DispatchSemaphore
    private let state = Locked(State())

    private struct State: @unchecked Sendable {
        // Connections not lent out; each is used by the one thread that holds it.
        var idle: [Database] = []
        var closed = false
    }

    init(path: String, busyTimeoutMilliseconds: Int32, capacity: Int) {
        self.path = path
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        slots = DispatchSemaphore(value: capacity)
    }

    func with<T>(_ body: (Database) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        let (lent, closed) = state.withLock { state in (state.idle.popLast(), state.closed) }
        if closed { throw DatabaseError(code: SQLITE_MISUSE, message: "the store is closed", sql: nil) }
        let reader = try lent ?? Database(path: path, readonly: true, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        defer {
            let keep = state.withLock { state in
                if state.closed { return false }
                state.idle.append(reader)
                return true
            }
            if !keep { reader.close() }
        }
        return try body(reader)
    }

    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for reader in idle { reader.close() }
    }
}
