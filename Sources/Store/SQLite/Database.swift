import CSQLite
import EdgeCore
import FoundationEssentials

/// One SQLite connection: the store's own thin layer over the C API (no ORM, no Foundation-only
/// types, which would link all of Foundation and ICU into the binary).
///
/// A connection is used by one thread at a time: the pool's writer queue, or the reader that
/// holds it. Its statement cache is that thread's.
final class Database: @unchecked Sendable {
    private let handle: OpaquePointer
    private var cache: [String: Statement] = [:]
    private var closed = false

    /// Opens `path` (creating it when writable), with extended result codes and SQLite's own
    /// waiting on a lock for `busyTimeoutMilliseconds`.
    init(path: String, readonly: Bool, busyTimeoutMilliseconds: Int32) throws(DatabaseError) {
        _ = Self.processSettings
        var connection: OpaquePointer?
        let flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &connection, flags, nil)
        guard status == SQLITE_OK, let connection else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            if let connection { sqlite3_close_v2(connection) }
            throw DatabaseError(code: status, message: message, sql: nil)
        }
        handle = connection
        sqlite3_extended_result_codes(connection, 1)
        sqlite3_busy_timeout(connection, busyTimeoutMilliseconds)
    }

    /// SQLite's process-wide settings, made once before the first connection opens (SQLite
    /// refuses them later, so a process that opened SQLite otherwise first keeps its defaults).
    ///
    /// - No allocation statistics: with them every allocation takes one global mutex.
    /// - Statement journals up to 4 MiB stay in memory. A statement that may fail half-way (a
    ///   CHECK, a trigger) journals the pages it changes so that it can be undone alone; the
    ///   default spills to a temporary file after 64 KiB, and once one statement of a
    ///   transaction had spilled (a batch's state update), every later insert of it wrote its
    ///   ~10 pages to that file again: 41 KB per ingested message, four times what the WAL and
    ///   the database got, outside the data directory. Larger journals still spill, so memory
    ///   stays bounded.
    static let processSettings: Bool = {
        fhir_edge_sqlite_config_memstatus(0) == SQLITE_OK
            && fhir_edge_sqlite_config_statement_journal_spill(statementJournalInMemory) == SQLITE_OK
    }()

    static let statementJournalInMemory: Int32 = 4 << 20

    deinit { close() }

    /// Finalizes the cached statements and closes the connection; idempotent.
    func close() {
        guard !closed else { return }
        closed = true
        for statement in cache.values { statement.finalize() }
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changesCount: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last successful INSERT.
    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Inside a transaction (BEGIN without COMMIT or ROLLBACK yet).
    var isInsideTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `sql`: one statement with `arguments`, or, without arguments, several separated by
    /// semicolons (a migration, a list of pragmas).
    func execute(sql: String, arguments: StatementArguments = []) throws {
        if !arguments.isEmpty {
            let statement = try makeStatement(sql: sql)
            defer { statement.finalize() }
            try statement.execute(arguments: arguments)
            return
        }
        try sql.withCString { text in
            var next: UnsafePointer<CChar>? = text
            while let start = next, start.pointee != 0 {
                var prepared: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let status = sqlite3_prepare_v2(handle, start, -1, &prepared, &tail)
                let consumed = tail.map { String(decoding: UnsafeRawBufferPointer(start: start, count: $0 - start), as: UTF8.self) } ?? ""
                guard status == SQLITE_OK else { throw error(status, sql: consumed) }
                next = tail
                // Only whitespace or a comment was left.
                guard let prepared else { continue }
                let statement = Statement(prepared, sql: consumed.trimmingWhitespace, database: self)
                defer { statement.finalize() }
                try statement.execute()
            }
        }
    }

    /// A statement prepared once per connection and reused: the store's hot statements.
    func cachedStatement(sql: String) throws -> Statement {
        if let statement = cache[sql] { return statement }
        let statement = try makeStatement(sql: sql)
        cache[sql] = statement
        return statement
    }

    /// A statement the caller finalizes (`execute` and the fetch helpers do).
    func makeStatement(sql: String) throws -> Statement {
        var prepared: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, 0, &prepared, nil)
        guard status == SQLITE_OK, let prepared else {
            throw status == SQLITE_OK ? DatabaseError(code: SQLITE_MISUSE, message: "no statement in the SQL", sql: sql) : error(status, sql: sql)
        }
        return Statement(prepared, sql: sql, database: self)
    }

    /// Drops a statement that failed from the cache, so a later call prepares it afresh.
    func forget(_ statement: Statement) {
        if cache[statement.sql] === statement {
            cache[statement.sql] = nil
            statement.finalize()
        }
    }

    func tableExists(_ name: String) throws -> Bool {
        try Int64.fetchOne(self, sql: "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", arguments: [name]) != nil
    }

    /// The error of the last call on this connection: its message is SQLite's, never a bound value.
    func error(_ status: Int32, sql: String?) -> DatabaseError {
        let extended = sqlite3_extended_errcode(handle)
        return DatabaseError(code: extended == 0 ? status : extended, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs `body` in one transaction (`BEGIN IMMEDIATE` for writes: the write lock is taken at
    /// once, so a busy database waits at BEGIN and never fails half-way), committing when it
    /// returns and rolling back when it throws or when the commit itself fails.
    func inTransaction<T>(_ kind: TransactionKind, _ body: (Database) throws -> T) throws -> T {
        try execute(sql: kind == .immediate ? "BEGIN IMMEDIATE TRANSACTION" : "BEGIN DEFERRED TRANSACTION")
        do {
            let value = try body(self)
            try execute(sql: "COMMIT TRANSACTION")
            return value
        } catch {
            // SQLite may have rolled back already (a full disk, an I/O error).
            if isInsideTransaction { try? execute(sql: "ROLLBACK TRANSACTION") }
            throw error
        }
    }

    enum TransactionKind { case deferred, immediate }
}

/// Why SQLite refused: its extended result code, its message and the SQL it was running.
/// Bound values are never part of it, so an error can be logged without patient data.
struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`SQLITE_IOERR_WRITE`, ...).
    let extendedResultCode: Int32
    let message: String
    let sql: String?

    init(code: Int32, message: String, sql: String?) {
        extendedResultCode = code
        self.message = message
        self.sql = sql
    }

    /// The primary result code: `SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_BUSY`, ...
    var resultCode: Int32 { extendedResultCode & 0xff }

    var description: String {
        var text = "SQLite error \(extendedResultCode): \(message)"
        if let sql { text += " - while executing `\(sql)`" }
        return text
    }
}
