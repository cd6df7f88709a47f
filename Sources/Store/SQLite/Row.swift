import FoundationEssentials

/// A value as SQLite stores it.
struct DatabaseValue: Sendable, Equatable {
    enum Storage: Sendable, Equatable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob(Data)
    }

    let storage: Storage
    static let null = DatabaseValue(storage: .null)
    var isNull: Bool { storage == .null }
}

/// A Swift value that is bound to and read from SQLite. Reading converts as SQLite's own
/// affinities would: text and blobs into each other (UTF-8), integers and exact reals.
protocol DatabaseValueConvertible {
    var databaseValue: DatabaseValue { get }
    /// Nil for NULL or a value of another kind.
    static func fromDatabaseValue(_ value: DatabaseValue) -> Self?
}

extension DatabaseValue: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { self }
    static func fromDatabaseValue(_ value: DatabaseValue) -> DatabaseValue? { value }
}

extension Int64: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { DatabaseValue(storage: .integer(self)) }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Int64? {
        switch value.storage {
        case .integer(let number): number
        case .real(let number): Int64(exactly: number)
        default: nil
        }
    }
}

extension Int: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { Int64(self).databaseValue }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Int? { Int64.fromDatabaseValue(value).flatMap { Int(exactly: $0) } }
}

extension Int32: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { Int64(self).databaseValue }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Int32? { Int64.fromDatabaseValue(value).flatMap { Int32(exactly: $0) } }
}

extension Bool: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { Int64(self ? 1 : 0).databaseValue }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Bool? { Int64.fromDatabaseValue(value).map { $0 != 0 } }
}

extension Double: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { DatabaseValue(storage: .real(self)) }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Double? {
        switch value.storage {
        case .real(let number): number
        case .integer(let number): Double(number)
        default: nil
        }
    }
}

extension String: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { DatabaseValue(storage: .text(self)) }
    static func fromDatabaseValue(_ value: DatabaseValue) -> String? {
        switch value.storage {
        case .text(let text): text
        case .blob(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }
}

extension Data: DatabaseValueConvertible {
    var databaseValue: DatabaseValue { DatabaseValue(storage: .blob(self)) }
    static func fromDatabaseValue(_ value: DatabaseValue) -> Data? {
        switch value.storage {
        case .blob(let bytes): bytes
        case .text(let text): Data(text.utf8)
        default: nil
        }
    }
}

/// One result row, its values copied out of the statement.
struct Row {
    private let columns: [String]
    private let values: [DatabaseValue]

    init(columns: [String], values: [DatabaseValue]) {
        self.columns = columns
        self.values = values
    }

    var count: Int { values.count }

    /// The value of column `index`, or nil for NULL (or another kind of value).
    subscript<Value: DatabaseValueConvertible>(_ index: Int) -> Value? {
        Value.fromDatabaseValue(values[index])
    }

    /// The value of a NOT NULL column: a NULL or a value of another kind is a schema bug.
    subscript<Value: DatabaseValueConvertible>(_ index: Int) -> Value {
        guard let value = Value.fromDatabaseValue(values[index]) else {
            preconditionFailure("column \(index) (\(columns[index])) does not hold a \(Value.self)")
        }
        return value
    }

    /// By column name (SQLite's names are case-insensitive).
    subscript<Value: DatabaseValueConvertible>(_ name: String) -> Value? {
        index(of: name).flatMap { Value.fromDatabaseValue(values[$0]) }
    }

    subscript<Value: DatabaseValueConvertible>(_ name: String) -> Value {
        guard let index = index(of: name), let value = Value.fromDatabaseValue(values[index]) else {
            preconditionFailure("column \(name) is missing or does not hold a \(Value.self)")
        }
        return value
    }

    private func index(of name: String) -> Int? {
        columns.firstIndex(of: name) ?? columns.firstIndex { $0.lowercased() == name.lowercased() }
    }
}

extension Row {
    static func fetchAll(_ statement: Statement, arguments: StatementArguments = []) throws -> [Row] {
        var rows: [Row] = []
        try statement.run(arguments) { row in
            rows.append(row)
            return true
        }
        return rows
    }

    static func fetchOne(_ statement: Statement, arguments: StatementArguments = []) throws -> Row? {
        var first: Row?
        try statement.run(arguments) { row in
            first = row
            return false
        }
        return first
    }

    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Row] {
        let statement = try db.makeStatement(sql: sql)
        defer { statement.finalize() }
        return try fetchAll(statement, arguments: arguments)
    }

    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> Row? {
        let statement = try db.makeStatement(sql: sql)
        defer { statement.finalize() }
        return try fetchOne(statement, arguments: arguments)
    }

    /// The rows, to be walked with `next()`.
    static func fetchCursor(_ statement: Statement, arguments: StatementArguments = []) throws -> RowCursor {
        RowCursor(rows: try fetchAll(statement, arguments: arguments))
    }
}

/// Rows walked one at a time.
final class RowCursor {
    private var rows: IndexingIterator<[Row]>
    init(rows: [Row]) { self.rows = rows.makeIterator() }
    func next() throws -> Row? { rows.next() }
}

extension DatabaseValueConvertible {
    /// The first column of the first row; nil when there is no row or it holds NULL.
    static func fetchOne(_ statement: Statement, arguments: StatementArguments = []) throws -> Self? {
        try Row.fetchOne(statement, arguments: arguments).flatMap { $0.count > 0 ? $0[0] : nil }
    }

    static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> Self? {
        try Row.fetchOne(db, sql: sql, arguments: arguments).flatMap { $0.count > 0 ? $0[0] : nil }
    }

    /// The first column of every row that does not hold NULL.
    static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Self] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { $0.count > 0 ? $0[0] : nil }
    }
}
