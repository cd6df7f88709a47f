/// Schema migrations applied in order, each once, in a transaction of its own with the record
/// that it ran. The records live in `grdb_migrations(identifier)`: the table earlier versions of
/// the store kept them in, so every existing store upgrades in place.
struct DatabaseMigrator: Sendable {
    private var migrations: [(identifier: String, migrate: @Sendable (Database) throws -> Void)] = []

    static let table = "grdb_migrations"

    mutating func registerMigration(_ identifier: String, migrate: @escaping @Sendable (Database) throws -> Void) {
        precondition(!migrations.contains { $0.identifier == identifier }, "migration \(identifier) registered twice")
        migrations.append((identifier, migrate))
    }

    /// Applies the migrations the database has not had yet.
    func migrate(_ pool: DatabasePool) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS \(Self.table) (identifier TEXT NOT NULL PRIMARY KEY)")
            let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM \(Self.table)"))
            for migration in migrations where !applied.contains(migration.identifier) {
                try db.inTransaction(.immediate) { db in
                    try migration.migrate(db)
                    try db.execute(sql: "INSERT INTO \(Self.table)(identifier) VALUES (?)", arguments: [migration.identifier])
                }
            }
        }
    }

    /// Whether every registered migration has been applied (a reader checks before trusting the schema).
    func hasCompletedMigrations(_ db: Database) throws -> Bool {
        guard try db.tableExists(Self.table) else { return migrations.isEmpty }
        let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM \(Self.table)"))
        return migrations.allSatisfy { applied.contains($0.identifier) }
    }
}
