import FoundationEssentials

/// How the patient-data columns are written and read: sealed under the data key when the store
/// is encrypted, as they are otherwise (a store opened without a key that never had one).
///
/// Encrypted columns: `inbox.payload`, `outbox.body` (with its identity inside),
/// `dead_letter.payload`, `server_identity.sealed_value`. Indexed identifiers hold keyed hashes:
/// `outbox.identity_key`, `dead_letter.identity_key`, `server_identity.value`.
struct StoreFields: Sendable {
    let cipher: FieldCipher?
    /// The journal's key, with the data key's (`JournalKeying`).
    var journal: JournalKeying? = nil

    static let clear = StoreFields(cipher: nil)

    static func place(_ table: String, _ id: Int64) -> String { "\(table)/\(id)" }

    /// The id the next insert into an AUTOINCREMENT table gets, so that a row's ciphertext can
    /// be bound to its id in the same insert. Call inside the writing transaction.
    static func nextID(_ table: String, _ db: Database) throws -> Int64 {
        let sequence = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = ?"), arguments: [table])
        return (sequence ?? 0) + 1
    }

    func sealPayload(_ bytes: some Collection<UInt8>, _ table: String, _ id: Int64) throws -> Data {
        guard let cipher else { return Data(bytes) }
        return try cipher.seal(Array(bytes), Self.place(table, id))
    }

    func openPayload(_ stored: Data?, _ table: String, _ id: Int64) throws -> Data {
        guard let cipher else { return stored ?? Data() }
        return try cipher.open(stored, Self.place(table, id))
    }

    /// The indexed identity column's value.
    func identity(_ identity: String) -> String {
        cipher?.index(identity) ?? identity
    }

    /// `outbox.body` for row `id`: the text itself, or the sealed identity and body.
    func sealBody(identity: String, body: String, id: Int64) throws -> DatabaseValue {
        guard let cipher else { return body.databaseValue }
        return try cipher.seal(OutboxPlaintext.pack(identity: identity, body: body.utf8), Self.place("outbox", id)).databaseValue
    }

    /// The identity and body of outbox row `id`, from its `identity_key` and `body` columns.
    func openBody(identityColumn: String?, body: DatabaseValue, id: Int64) throws -> (identity: String, body: String) {
        guard let cipher else { return (identityColumn ?? "", String.fromDatabaseValue(body) ?? "") }
        let place = Self.place("outbox", id)
        let opened = try OutboxPlaintext.unpack(try cipher.open(Data.fromDatabaseValue(body), place), place)
        return (opened.identity, String(decoding: opened.body, as: UTF8.self))
    }

    /// The payload of dead letter `id` as an operator sees it (the message, or the resource
    /// body), and the identity of an outbox-origin one.
    func openDeadLetter(payload: Data?, identityColumn: String?, origin: String, id: Int64) throws -> (payload: Data, identity: String?) {
        guard let cipher else { return (payload ?? Data(), identityColumn) }
        let place = Self.place("dead_letter", id)
        let opened = try cipher.open(payload, place)
        guard origin == "outbox" else { return (opened, nil) }
        let unpacked = try OutboxPlaintext.unpack(opened, place)
        return (unpacked.body, unpacked.identity)
    }

    /// After `INSERT INTO dead_letter ... SELECT` copied an inbox payload or an outbox body to
    /// dead letter `id`, seals it again for its new row (a ciphertext never opens elsewhere).
    func rebindCopiedDeadLetter(id: Int64, from table: String, _ originID: Int64, _ db: Database) throws {
        guard let cipher else { return }
        let stored = try Data.fetchOne(db, sql: "SELECT payload FROM dead_letter WHERE id = ?", arguments: [id])
        let plain = try cipher.open(stored, Self.place(table, originID))
        try db.execute(sql: "UPDATE dead_letter SET payload = ? WHERE id = ?", arguments: [try cipher.seal(plain, Self.place("dead_letter", id)), id])
    }

    /// After a dead letter's payload was copied back to inbox row `id`.
    func rebindReplayedInbox(id: Int64, deadLetter: Int64, _ db: Database) throws {
        guard let cipher else { return }
        let stored = try Data.fetchOne(db, sql: "SELECT payload FROM inbox WHERE id = ?", arguments: [id])
        let plain = try cipher.open(stored, Self.place("dead_letter", deadLetter))
        try db.execute(sql: "UPDATE inbox SET payload = ? WHERE id = ?", arguments: [try cipher.seal(plain, Self.place("inbox", id)), id])
    }

    /// `server_identity.sealed_value` for the row keyed by (type, system, hashed value).
    func sealIdentifier(_ value: String, resourceType: String, system: String) throws -> Data? {
        guard let cipher else { return nil }
        return try cipher.seal(Data(value.utf8), Self.identifierPlace(resourceType, system, cipher.index(value)))
    }

    func openIdentifier(valueColumn: String, sealed: Data?, resourceType: String, system: String) throws -> String {
        guard let cipher else { return valueColumn }
        return String(decoding: try cipher.open(sealed, Self.identifierPlace(resourceType, system, valueColumn)), as: UTF8.self)
    }

    static func identifierPlace(_ resourceType: String, _ system: String, _ hashedValue: String) -> String {
        "server_identity/\(resourceType)|\(system)|\(hashedValue)"
    }
}
