import Crypto
import FoundationEssentials

/// The store's data key in `store_meta` (`data_key`: text `<kek id>:<wrapped key>`), and the
/// rewriting of every encrypted column from one key (or from clear) to another.
enum StoreKeying {
    static let metaKey = "data_key"

    static func wrappedDataKey(_ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT text FROM store_meta WHERE key = ?", arguments: [metaKey])
    }

    static func state(_ db: Database) throws -> StoreEncryptionState {
        guard let wrapped = try wrappedDataKey(db) else { return .clear }
        return .encrypted(keyID: String(wrapped.prefix { $0 != ":" }))
    }

    /// The fields of an existing store for a reader: it never changes the store.
    static func fieldsForReading(_ db: Database, encryption: StoreEncryption?, path: String) throws -> StoreFields {
        guard let wrapped = try wrappedDataKey(db) else { return .clear }
        guard let encryption else { throw keyRequired(path) }
        let dataKey = try FieldCipher.unwrap(wrapped, with: encryption.keyEncryptionKey, store: path)
        return StoreFields(cipher: FieldCipher(dataKey: dataKey, random: encryption.random),
                           journal: try JournalKeying.load(db, kek: encryption.keyEncryptionKey, path: path))
    }

    static func keyRequired(_ path: String) -> StoreError {
        StoreError(.keyRequired,
            "this store is encrypted and no key was given; configure store.encryption (keyFile, keyEnv or keyCredential) "
                + "or pass --key-file/--key-env/--key-credential", location: path)
    }

    /// The fields for the writer. A clear store opened with a key is encrypted in place, in this
    /// transaction: a new data key is wrapped and stored and every row is sealed. Returns the
    /// number of rows sealed (0 when the store already had its key).
    static func fieldsForWriting(_ db: Database, encryption: StoreEncryption?, path: String) throws -> (StoreFields, sealed: Int?) {
        if try wrappedDataKey(db) != nil || encryption == nil {
            return (try fieldsForReading(db, encryption: encryption, path: path), nil)
        }
        guard let encryption else { return (.clear, nil) }
        let dataKey = FieldCipher.newDataKey(random: encryption.random)
        var fields = StoreFields(cipher: FieldCipher(dataKey: dataKey, random: encryption.random))
        fields.journal = try JournalKeying.create(db, encryption: encryption)
        let rows = try rewrite(from: .clear, to: fields, db)
        try db.execute(sql: "INSERT INTO store_meta(key, value, text) VALUES (?, 1, ?)",
                       arguments: [metaKey, try FieldCipher.wrap(dataKey, with: encryption.keyEncryptionKey)])
        return (fields, rows)
    }

    /// Re-wraps the data key under `newKey` (rows untouched), or with `newDataKey` seals every
    /// row again under a fresh data key; one transaction either way. Returns the rows rewritten.
    static func rekey(_ db: Database, current: StoreEncryption, newKey: KeyEncryptionKey, newDataKey: Bool, path: String) throws -> Int {
        guard let wrapped = try wrappedDataKey(db) else {
            throw StoreError(.invalidState, "the store is not encrypted yet; start the gateway with a key once, then rotate", location: path)
        }
        var dataKey = try FieldCipher.unwrap(wrapped, with: current.keyEncryptionKey, store: path)
        // The journal key stays (its chain must keep verifying); only its wrapping changes.
        try JournalKeying.store(try JournalKeying.load(db, kek: current.keyEncryptionKey, path: path), under: newKey, db)
        var rows = 0
        if newDataKey {
            let old = StoreFields(cipher: FieldCipher(dataKey: dataKey, random: current.random))
            dataKey = FieldCipher.newDataKey(random: current.random)
            rows = try rewrite(from: old, to: StoreFields(cipher: FieldCipher(dataKey: dataKey, random: current.random)), db)
        }
        try db.execute(sql: "UPDATE store_meta SET value = value + 1, text = ? WHERE key = ?",
                       arguments: [try FieldCipher.wrap(dataKey, with: newKey), metaKey])
        return rows
    }

    /// Rewrites every encrypted column from `old` to `new`, a page of rows at a time.
    static func rewrite(from old: StoreFields, to new: StoreFields, _ db: Database) throws -> Int {
        var rows = 0
        try pages("SELECT id, payload FROM inbox WHERE id > ? ORDER BY id LIMIT 500", db) { row in
            let id: Int64 = row[0]
            let plain = try old.openPayload(row[1], "inbox", id)
            try db.execute(sql: "UPDATE inbox SET payload = ? WHERE id = ?", arguments: [try new.sealPayload(plain, "inbox", id), id])
            rows += 1
        }
        try pages("SELECT id, identity_key, body FROM outbox WHERE id > ? ORDER BY id LIMIT 500", db) { row in
            let id: Int64 = row[0]
            let opened = try old.openBody(identityColumn: row[1], body: row[2], id: id)
            try db.execute(sql: "UPDATE outbox SET identity_key = ?, body = ? WHERE id = ?", arguments: [
                new.identity(opened.identity), try new.sealBody(identity: opened.identity, body: opened.body, id: id), id,
            ])
            rows += 1
        }
        try pages("SELECT id, origin, identity_key, payload FROM dead_letter WHERE id > ? ORDER BY id LIMIT 500", db) { row in
            let id: Int64 = row[0]
            let origin: String = row[1] ?? ""
            let opened = try old.openDeadLetter(payload: row[3], identityColumn: row[2], origin: origin, id: id)
            let sealed = try new.sealDeadLetter(payload: opened.payload, identity: opened.identity, origin: origin, id: id)
            try db.execute(sql: "UPDATE dead_letter SET identity_key = ?, payload = ? WHERE id = ?",
                           arguments: [sealed.identityColumn, sealed.payload, id])
            rows += 1
        }
        let identities = try Row.fetchAll(db, sql: "SELECT resource_type, system, value, sealed_value FROM server_identity")
        for row in identities {
            let (type, system, column): (String, String, String) = (row[0], row[1], row[2])
            let value = try old.openIdentifier(valueColumn: column, sealed: row[3], resourceType: type, system: system)
            try db.execute(sql: """
                UPDATE server_identity SET value = ?, sealed_value = ? WHERE resource_type = ? AND system = ? AND value = ?
                """, arguments: [new.identity(value), try new.sealIdentifier(value, resourceType: type, system: system), type, system, column])
            rows += 1
        }
        return rows
    }

    /// Calls `body` for each row of `sql` (which takes the last id seen and returns id first).
    private static func pages(_ sql: String, _ db: Database, _ body: (Row) throws -> Void) throws {
        var after: Int64 = 0
        while true {
            let page = try Row.fetchAll(db, sql: sql, arguments: [after])
            guard let last = page.last else { return }
            for row in page { try body(row) }
            after = last[0]
        }
    }
}

extension StoreFields {
    /// `dead_letter.payload` and `identity_key` for dead letter `id`.
    func sealDeadLetter(payload: Data, identity: String?, origin: String, id: Int64) throws -> (payload: Data, identityColumn: String?) {
        guard let cipher else { return (payload, identity) }
        let place = Self.place("dead_letter", id)
        guard origin == "outbox" else { return (try cipher.seal(payload, place), nil) }
        let identity = identity ?? ""
        return (try cipher.seal(OutboxPlaintext.pack(identity: identity, body: payload), place), cipher.index(identity))
    }
}
