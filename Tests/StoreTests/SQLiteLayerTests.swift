import CSQLite
import Foundation
@testable import Store
import XCTest

/// The store's own layer over SQLite's C API: values round-trip exactly, errors name the SQL
/// and never a bound value, transactions roll back, readers see committed snapshots only, and
/// the migrator keeps the records of stores written before it.
final class SQLiteLayerTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-layer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func pool(_ name: String = "test.sqlite") throws -> DatabasePool {
        try DatabasePool(path: folder.appendingPathComponent(name).path)
    }

    func testValuesRoundTripIncludingNullEmptyAndZeroBytes() throws {
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
            let text = "Zürich \u{0} 心拍 🫀"
            try db.execute(sql: "INSERT INTO t(i, r, s, b, n) VALUES (?, ?, ?, ?, ?)",
                           arguments: [Int64.min, 98.6, text, Data([0, 0, 1, 0]), nil])
            try db.execute(sql: "INSERT INTO t(i, r, s, b, n) VALUES (?, ?, ?, ?, ?)", arguments: [0, -0.5, "", Data(), "x"])
            XCTAssertEqual(db.lastInsertedRowID, 2)

            let rows = try Row.fetchAll(db, sql: "SELECT i, r, s, b, n, typeof(s), typeof(b), length(s) FROM t ORDER BY id")
            XCTAssertEqual(rows.count, 2)
            XCTAssertEqual(rows[0][0] as Int64, .min)
            XCTAssertEqual(rows[0][1] as Double, 98.6)
            XCTAssertEqual(rows[0][2] as String, text, "a NUL inside text is kept")
            XCTAssertEqual(rows[0][3] as Data, Data([0, 0, 1, 0]))
            XCTAssertNil(rows[0][4] as String?)
            XCTAssertEqual(rows[1][2] as String, "")
            XCTAssertEqual(rows[1][3] as Data, Data())
            // Empty values are empty, not NULL.
            XCTAssertEqual(rows[1][5] as String, "text")
            XCTAssertEqual(rows[1][6] as String, "blob")
            XCTAssertEqual(rows[1]["N"] as String?, "x", "column names are case-insensitive")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT i FROM t ORDER BY id"), [.min, 0])
            XCTAssertNil(try String.fetchOne(db, sql: "SELECT n FROM t WHERE id = 1"))
            XCTAssertNil(try String.fetchOne(db, sql: "SELECT n FROM t WHERE id = 99"))
        }
    }

    func testNamedArgumentsBindByName() throws {
        let pool = try pool()
        defer { try? pool.close() }
        let value = try pool.write { db in
            try Int64.fetchOne(db, sql: "SELECT :a * 10 + :b", arguments: ["b": 2, "a": 4])
        }
        XCTAssertEqual(value, 42)
        XCTAssertThrowsError(try pool.write { db in try Int64.fetchOne(db, sql: "SELECT :a + :b", arguments: ["a": 1]) }) { error in
            XCTAssertTrue("\(error)".contains("no argument for :b"), "\(error)")
        }
    }

    func testAFailingStatementNamesItsSQLAndCodeButNoBoundValue() throws {
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)") }
        let patient = "Jane Example 1980-02-03"
        try pool.write { db in try db.execute(sql: "INSERT INTO t(name) VALUES (?)", arguments: [patient]) }
        XCTAssertThrowsError(try pool.write { db in try db.execute(sql: "INSERT INTO t(name) VALUES (?)", arguments: [patient]) }) { error in
            guard let error = error as? DatabaseError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.resultCode, SQLITE_CONSTRAINT)
            // SQLITE_CONSTRAINT_UNIQUE, a macro Swift does not import.
            XCTAssertEqual(error.extendedResultCode, SQLITE_CONSTRAINT | 8 << 8)
            XCTAssertTrue(error.description.contains("INSERT INTO t(name) VALUES (?)"), error.description)
            XCTAssertFalse(error.description.contains("Jane"), error.description)
        }
        XCTAssertThrowsError(try pool.write { db in try db.execute(sql: "SELEC 1") }) { error in
            XCTAssertTrue("\(error)".contains("syntax error"), "\(error)")
        }
        XCTAssertThrowsError(try pool.write { db in try db.execute(sql: "SELECT ?", arguments: [1, 2]) }) { error in
            XCTAssertTrue("\(error)".contains("2 arguments for 1 parameters"), "\(error)")
        }
    }

    func testAThrowRollsTheWholeTransactionBack() throws {
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(x INTEGER)") }
        struct Refused: Error {}
        XCTAssertThrowsError(try pool.write { db in
            try db.execute(sql: "INSERT INTO t VALUES (1)")
            try db.execute(sql: "INSERT INTO t VALUES (2)")
            throw Refused()
        })
        XCTAssertEqual(try pool.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM t") }, 0)
        // The connection is usable again, outside any transaction.
        try pool.write { db in try db.execute(sql: "INSERT INTO t VALUES (3)") }
        XCTAssertEqual(try pool.read { db in try Int64.fetchAll(db, sql: "SELECT x FROM t") }, [3])
    }

    func testACachedStatementIsPreparedOnceAndRebindsEachUse() throws {
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t(x INTEGER)")
            let insert = try db.cachedStatement(sql: "INSERT INTO t VALUES (?)")
            XCTAssertTrue(insert === (try db.cachedStatement(sql: "INSERT INTO t VALUES (?)")))
            for value in 1...3 { try insert.execute(arguments: [value]) }
            // A failed step drops it from the cache; the next call prepares a fresh one that works.
            try db.execute(sql: "CREATE UNIQUE INDEX tx ON t(x)")
            let unique = try db.cachedStatement(sql: "INSERT INTO t VALUES (?)")
            XCTAssertThrowsError(try unique.execute(arguments: [1]))
            let fresh = try db.cachedStatement(sql: "INSERT INTO t VALUES (?)")
            XCTAssertFalse(fresh === unique)
            try fresh.execute(arguments: [4])
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT x FROM t ORDER BY x"), [1, 2, 3, 4])
        }
    }

    func testReadersSeeOnlyCommittedDataAndNeverBlockTheWriter() throws {
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t(x INTEGER)")
            try db.execute(sql: "INSERT INTO t VALUES (1)")
        }
        let seenMidTransaction = try pool.write { db -> Int64? in
            try db.execute(sql: "INSERT INTO t VALUES (2)")
            // The writer holds an open transaction; a reader sees the last commit.
            return try pool.read { reader in try Int64.fetchOne(reader, sql: "SELECT count(*) FROM t") }
        }
        XCTAssertEqual(seenMidTransaction, 1)
        XCTAssertEqual(try pool.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM t") }, 2)
        XCTAssertEqual(try pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }, "wal")
    }

    func testAsyncWritesAndReadsFromManyTasksAllLand() async throws {
        let pool = try pool()
        defer { try? pool.close() }
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "CREATE TABLE t(x INTEGER)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for value in 0..<40 {
                group.addTask {
                    try await pool.write { db in try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [value]) }
                    _ = try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM t") }
                }
            }
            try await group.waitForAll()
        }
        let total = try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT sum(x) FROM t") }
        XCTAssertEqual(total, 780)
    }

    func testAReadOnlyPoolReadsButCannotWrite() throws {
        let writable = try pool()
        try writable.write { db in try db.execute(sql: "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (7)") }
        let readonly = try DatabasePool(path: folder.appendingPathComponent("test.sqlite").path, readonly: true)
        defer { try? readonly.close(); try? writable.close() }
        XCTAssertEqual(try readonly.read { db in try Int64.fetchOne(db, sql: "SELECT x FROM t") }, 7)
        XCTAssertThrowsError(try readonly.write { db in try db.execute(sql: "INSERT INTO t VALUES (8)") })
    }

    func testTheMigratorRunsEachMigrationOnceAndKeepsEarlierRecords() throws {
        let path = folder.appendingPathComponent("migrated.sqlite").path
        // A store migrated by an earlier version: its records in grdb_migrations, v1 applied.
        let earlier = try DatabasePool(path: path)
        try earlier.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1');
                CREATE TABLE a(x INTEGER);
                """)
        }
        try earlier.close()

        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in try db.execute(sql: "CREATE TABLE a(x INTEGER)") }
        migrator.registerMigration("v2") { db in try db.execute(sql: "CREATE TABLE b(y INTEGER)") }
        let pool = try DatabasePool(path: path)
        defer { try? pool.close() }
        XCTAssertFalse(try pool.read { db in try migrator.hasCompletedMigrations(db) })
        try migrator.migrate(pool)
        try migrator.migrate(pool)
        XCTAssertTrue(try pool.read { db in try migrator.hasCompletedMigrations(db) })
        XCTAssertEqual(try pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") }, ["v1", "v2"])
        XCTAssertTrue(try pool.read { db in try db.tableExists("b") })

        // A migration that fails leaves neither its changes nor its record.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: "CREATE TABLE c(z INTEGER)")
            try db.execute(sql: "INSERT INTO missing VALUES (1)")
        }
        XCTAssertThrowsError(try migrator.migrate(pool))
        XCTAssertFalse(try pool.read { db in try db.tableExists("c") })
        XCTAssertFalse(try pool.read { db in try migrator.hasCompletedMigrations(db) })
    }

    func testAMultiRowInsertKeepsOrderAndValuesAcrossChunkSizes() throws {
        let pool = try pool()
        defer { try? pool.close() }
        let insert = MultiRowInsert("INSERT INTO t(id, name, state)", row: "(?, ?, 'new')")
        XCTAssertEqual(insert.parametersPerRow, 2)
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, state TEXT NOT NULL)")
            var next: Int64 = 1
            var nulls: Int64 = 0
            // Below, at and above the largest chunk, and a remainder that needs every smaller one.
            for count in [0, 1, MultiRowInsert.largestChunk, MultiRowInsert.largestChunk + 1, 3 * MultiRowInsert.largestChunk - 1] {
                let rows: [MultiRowInsert.Values] = (0..<count).map { offset in
                    [next + Int64(offset), offset.isMultiple(of: 7) ? nil : "row \(next + Int64(offset))"]
                }
                try insert.execute(rows, db)
                next += Int64(count)
                nulls += Int64((count + 6) / 7)
            }
            let stored = try Row.fetchAll(db, sql: "SELECT id, name, state FROM t ORDER BY rowid")
            XCTAssertEqual(stored.count, Int(next - 1))
            for (index, row) in stored.enumerated() {
                XCTAssertEqual(row[0] as Int64, Int64(index + 1), "rows are inserted in order")
                XCTAssertEqual(row[2] as String, "new")
            }
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM t WHERE name IS NULL"), nulls)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT name FROM t WHERE id = 67"), "row 67")
        }
    }

    func testAMultiRowInsertRefusesARowOfTheWrongWidthAndAFailingRowFailsTheTransaction() throws {
        let pool = try pool()
        defer { try? pool.close() }
        let insert = MultiRowInsert("INSERT INTO t(id, name)", row: "(?, ?)")
        try pool.write { db in try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL)") }
        XCTAssertThrowsError(try pool.write { db in try insert.execute([[1, "a"], [2]], db) })
        let rows: [MultiRowInsert.Values] = (1...100).map { [Int64($0), $0 == 80 ? nil : "row"] }
        XCTAssertThrowsError(try pool.write { db in try insert.execute(rows, db) }) { error in
            XCTAssertEqual((error as? DatabaseError)?.resultCode, SQLITE_CONSTRAINT)
        }
        XCTAssertEqual(try pool.read { db in try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM t") }, 0,
                       "the rows of the chunks before the failing one are rolled back with it")
    }

    /// A statement that may stop half-way journals the pages it changes. SQLite's default spills
    /// that journal to a temporary file (outside the data directory) after 64 KiB, and every
    /// later statement of the transaction then wrote its pages there too. The store keeps
    /// journals up to 4 MiB in memory; this update journals about 400 KiB.
    func testAStatementJournalOfABatchStaysInMemory() throws {
        XCTAssertTrue(Database.processSettings, "SQLite was initialised before the store's first connection")
        let pool = try pool()
        defer { try? pool.close() }
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, state TEXT NOT NULL CHECK (state IN ('a', 'b')), pad BLOB)")
            let insert = MultiRowInsert("INSERT INTO t(state, pad)", row: "('a', ?)")
            try insert.execute((0..<400).map { _ in [Data(repeating: 7, count: 1000)] }, db)
        }
        let temporaryFiles = try pool.write { db in
            try db.execute(sql: "UPDATE t SET state = 'b'")
            XCTAssertEqual(db.changesCount, 400)
            return try Self.openTemporaryFiles()
        }
        XCTAssertEqual(temporaryFiles, [], "the statement journal spilled to a temporary file")
    }

    /// SQLite's temporary files are unlinked as soon as they are open; the descriptor shows them.
    private static func openTemporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) else { return nil }
            return target.contains("etilqs_") ? target : nil
        }
    }
}
