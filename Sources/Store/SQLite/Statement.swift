import CSQLite
import FoundationEssentials

/// A prepared statement of one connection. Each use binds its arguments afresh, steps it to the
/// end (or reads its rows) and resets it, so a cached statement never keeps a read open.
final class Statement: @unchecked Sendable {
    private var handle: OpaquePointer?
    let sql: String
    private unowned let database: Database
    private lazy var columnNames: [String] = {
        guard let handle else { return [] }
        return (0..<sqlite3_column_count(handle)).map { String(cString: sqlite3_column_name(handle, $0)) }
    }()

    init(_ handle: OpaquePointer, sql: String, database: Database) {
        self.handle = handle
        self.sql = sql
        self.database = database
    }

    func finalize() {
        if let handle { sqlite3_finalize(handle) }
        handle = nil
    }

    /// Runs the statement to completion, discarding any rows.
    func execute(arguments: StatementArguments = []) throws {
        try run(arguments) { _ in true }
    }

    /// Binds `arguments`, steps through the rows handing each to `row` while it returns true,
    /// and resets. (SQLite makes all of a statement's changes in its first step, RETURNING
    /// included, so stopping early never leaves a change half-made.)
    func run(_ arguments: StatementArguments, _ row: (Row) throws -> Bool) throws {
        guard let handle else { throw DatabaseError(code: SQLITE_MISUSE, message: "the statement was finalized", sql: sql) }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        do {
            try bind(arguments, handle)
            while true {
                let status = sqlite3_step(handle)
                if status == SQLITE_DONE { break }
                guard status == SQLITE_ROW else { throw database.error(status, sql: sql) }
                guard try row(Row(columns: columnNames, values: (0..<sqlite3_column_count(handle)).map { value(handle, $0) })) else { break }
            }
            sqlite3_reset(handle)
        } catch {
            sqlite3_reset(handle)
            // A statement whose step failed is prepared afresh next time.
            database.forget(self)
            throw error
        }
    }

    private func bind(_ arguments: StatementArguments, _ handle: OpaquePointer) throws {
        let count = Int(sqlite3_bind_parameter_count(handle))
        switch arguments.storage {
        case .positional(let values):
            guard values.count == count else {
                throw DatabaseError(code: SQLITE_RANGE, message: "\(values.count) arguments for \(count) parameters", sql: sql)
            }
            for (offset, value) in values.enumerated() { try bind(value?.databaseValue ?? .null, at: Int32(offset + 1), handle) }
        case .named(let values):
            for index in stride(from: 1, through: count, by: 1) {
                guard let name = sqlite3_bind_parameter_name(handle, Int32(index)).map({ String(cString: $0) }) else {
                    throw DatabaseError(code: SQLITE_RANGE, message: "parameter \(index) has no name", sql: sql)
                }
                // `:lease` is bound from the key `lease`.
                let key = name.first.map { ":@$".contains($0) } == true ? String(name.dropFirst()) : name
                guard let value = values[key] else {
                    throw DatabaseError(code: SQLITE_RANGE, message: "no argument for \(name)", sql: sql)
                }
                try bind(value?.databaseValue ?? .null, at: Int32(index), handle)
            }
        }
    }

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    private func bind(_ value: DatabaseValue, at index: Int32, _ handle: OpaquePointer) throws {
        let status: Int32
        switch value.storage {
        case .null: status = sqlite3_bind_null(handle, index)
        case .integer(let number): status = sqlite3_bind_int64(handle, index, number)
        case .real(let number): status = sqlite3_bind_double(handle, index, number)
        case .text(let text):
            // With its length, so that a NUL inside the text is kept; an empty text is not NULL.
            var text = text
            status = text.isEmpty
                ? sqlite3_bind_text(handle, index, "", 0, Self.transient)
                : text.withUTF8 { utf8 in
                    utf8.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
                }
        case .blob(let bytes):
            // A NULL pointer would bind NULL, not an empty blob.
            status = bytes.isEmpty
                ? sqlite3_bind_zeroblob(handle, index, 0)
                : bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient) }
        }
        guard status == SQLITE_OK else { throw database.error(status, sql: sql) }
    }

    private func value(_ handle: OpaquePointer, _ column: Int32) -> DatabaseValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER: return DatabaseValue(storage: .integer(sqlite3_column_int64(handle, column)))
        case SQLITE_FLOAT: return DatabaseValue(storage: .real(sqlite3_column_double(handle, column)))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard let text = sqlite3_column_text(handle, column) else { return DatabaseValue(storage: .text("")) }
            return DatabaseValue(storage: .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return DatabaseValue(storage: .blob(Data())) }
            return DatabaseValue(storage: .blob(Data(bytes: bytes, count: count)))
        default: return .null
        }
    }
}

/// The values bound to a statement's parameters: `[a, b, nil]` by position, or
/// `["lease": 1, "now": t]` by name (`:lease`, `:now` in the SQL).
struct StatementArguments: ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    enum Storage {
        case positional([(any DatabaseValueConvertible)?])
        case named([String: (any DatabaseValueConvertible)?])
    }

    let storage: Storage

    init(_ values: [(any DatabaseValueConvertible)?]) { storage = .positional(values) }
    init(arrayLiteral elements: (any DatabaseValueConvertible)?...) { storage = .positional(elements) }
    init(dictionaryLiteral elements: (String, (any DatabaseValueConvertible)?)...) {
        storage = .named(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    var isEmpty: Bool {
        switch storage {
        case .positional(let values): values.isEmpty
        case .named(let values): values.isEmpty
        }
    }
}
