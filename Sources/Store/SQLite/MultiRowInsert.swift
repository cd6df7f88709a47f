import CSQLite

/// Inserts a batch of rows with multi-row `INSERT ... VALUES (...), (...)` statements.
///
/// Each statement that may stop half-way (a CHECK, a trigger) journals the pages it changes so
/// that it can be undone alone; a statement per row journals the table's and every index's last
/// pages once per row. One statement for up to `largestChunk` rows journals them once, which
/// took a third of the CPU off each stored message. The rows are inserted in order, and a failing
/// row fails its whole transaction as before.
struct MultiRowInsert: Sendable {
    typealias Values = [(any DatabaseValueConvertible)?]

    static let largestChunk = 64

    /// The SQL for each chunk size, a power of two up to `largestChunk`: a few cached statements
    /// serve any batch.
    private let sqlByChunk: [Int: String]
    let parametersPerRow: Int

    /// `row` is one row's `VALUES` tuple, e.g. `(?, ?, 'pending')`; its `?` count is the number
    /// of values each row passes.
    init(_ head: String, row: String) {
        parametersPerRow = row.utf8.count(where: { $0 == UInt8(ascii: "?") })
        var sqlByChunk: [Int: String] = [:]
        var size = 1
        while size <= Self.largestChunk {
            sqlByChunk[size] = head + " VALUES " + repeatElement(row, count: size).joined(separator: ", ")
            size *= 2
        }
        self.sqlByChunk = sqlByChunk
    }

    func execute(_ rows: [Values], _ db: Database) throws {
        var start = 0
        while start < rows.count {
            var chunk = Self.largestChunk
            while chunk > rows.count - start { chunk /= 2 }
            var arguments: Values = []
            arguments.reserveCapacity(chunk * parametersPerRow)
            for row in rows[start..<(start + chunk)] {
                guard row.count == parametersPerRow else {
                    throw DatabaseError(code: SQLITE_RANGE, message: "\(row.count) values for a row of \(parametersPerRow)", sql: sqlByChunk[1])
                }
                arguments += row
            }
            try db.cachedStatement(sql: sqlByChunk[chunk]!).execute(arguments: StatementArguments(arguments))
            start += chunk
        }
    }
}
