import EdgeCore
import Crypto
import FoundationEssentials

/// The journal's own key (256 random bits, wrapped under the KEK like the data key and never
/// replaced by a data-key rotation). The recorded head carries
/// `tag(n) = HMAC-SHA256(key, "fhir-edge journal head v1|n|hash(n)")`, and from entry `keyedFrom`
/// on each stored hash is `HMAC-SHA256(key, "fhir-edge journal entry v1" ‖ h ‖ "|" ‖ t)` of the
/// chain's hash `h` and the head tag `t` the store found before appending it (empty before the
/// first keyed entry). Without the key an edited entry cannot be rehashed, a cut tail cannot be
/// given a head that verifies, and an entry appended after such a cut carries the stale tag, so
/// the gateway's next append does not make the cut verify either.
///
/// `store_meta` rows: `journal_key` (value `keyedFrom`, text `<kek id>:<wrapped>:<tag of keyedFrom>`)
/// and `journal_head_tag` (text: the head's tag).
struct JournalKeying: Sendable {
    static let metaKey = "journal_key"
    static let headTagKey = "journal_head_tag"
    let key: SymmetricKey
    /// The first sequence number chained with the key (entries before it came from a clear store).
    let keyedFrom: Int64

    func tag(_ text: String) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    func entryHash(_ inner: String, previousTag: String?) -> String { tag("fhir-edge journal entry v1" + inner + "|" + (previousTag ?? "")) }
    func headTag(sequence: Int64, hash: String) -> String { tag("fhir-edge journal head v1|\(sequence)|\(hash)") }
    func fromTag() -> String { tag("fhir-edge journal keyed from v1|\(keyedFrom)") }
    /// The tag of the record of pruned entries (`journal_base`), so it cannot be moved without the key.
    func baseTag(sequence: Int64, hash: String) -> String { tag("fhir-edge journal base v1|\(sequence)|\(hash)") }

    /// The gateway's journal signing key (Ed25519), derived from the journal key so that it needs
    /// no storage of its own and lives exactly as long as the journal key. Its public half lets a
    /// server or an auditor check checkpoints without being able to forge them.
    func signingKey() throws -> Curve25519.Signing.PrivateKey {
        let seed = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("fhir-edge journal signing v1".utf8), outputByteCount: 32)
        return try seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: Data($0)) }
    }

    /// The key that signs field-kit manifests and acknowledgements (Ed25519), derived like the
    /// journal signing key but apart from it, so that a kit signature can never pass for a
    /// checkpoint or the reverse.
    func kitSigningKey() throws -> Curve25519.Signing.PrivateKey {
        let seed = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data("fhir-edge kit signing v1".utf8), outputByteCount: 32)
        return try seed.withUnsafeBytes { try Curve25519.Signing.PrivateKey(rawRepresentation: Data($0)) }
    }

    /// A new journal key whose chain starts after the current head.
    static func create(_ db: Database, encryption: StoreEncryption) throws -> JournalKeying {
        let head = try Int64.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = 'journal_head'") ?? 0
        let keying = JournalKeying(key: SymmetricKey(data: encryption.random(32)), keyedFrom: head + 1)
        try store(keying, under: encryption.keyEncryptionKey, db)
        return keying
    }

    static func store(_ keying: JournalKeying, under kek: KeyEncryptionKey, _ db: Database) throws {
        let wrapped = try FieldCipher.wrap(keying.key, with: kek)
        try db.execute(sql: "INSERT OR REPLACE INTO store_meta(key, value, text) VALUES (?, ?, ?)",
                       arguments: [metaKey, keying.keyedFrom, wrapped + ":" + keying.fromTag()])
    }

    /// The journal key of an encrypted store. Its absence, or a `keyedFrom` that does not match
    /// its tag, means store_meta was altered: `.corruptJournal`.
    static func load(_ db: Database, kek: KeyEncryptionKey, path: String) throws -> JournalKeying {
        guard let row = try Row.fetchOne(db, sql: "SELECT value, text FROM store_meta WHERE key = ?", arguments: [metaKey]),
              let text: String = row["text"] else {
            throw StoreError(.corruptJournal,
                "the store is encrypted but its journal key was removed from store_meta; the journal cannot be trusted",
                location: path + " (store_meta journal_key)")
        }
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3 else {
            throw StoreError(.corruptJournal, "the journal key is not in fhir-edge's format", location: path + " (store_meta journal_key)")
        }
        let key = try FieldCipher.unwrap(parts[0] + ":" + parts[1], with: kek, store: path)
        let keying = JournalKeying(key: key, keyedFrom: row["value"])
        guard keying.fromTag() == parts[2] else {
            throw StoreError(.corruptJournal, "the journal key's starting entry was altered in store_meta",
                location: path + " (store_meta journal_key)")
        }
        return keying
    }
}

/// The chain an encrypted store appends and verifies with: the caller's chain, keyed.
struct KeyedJournalChain: JournalChain {
    let base: any JournalChain
    let keying: JournalKeying

    /// The hash a verifier expects: the previous entry's tag computed from its hash.
    func hash(of entry: JournalEntry, previous: String?) -> String {
        hash(of: entry, previous: previous, previousTag: expectedTag(sequence: entry.sequence - 1, hash: previous))
    }

    /// The hash the store appends, with the head tag it found (`JournalTable.append`).
    func hash(of entry: JournalEntry, previous: String?, previousTag: String?) -> String {
        let inner = base.hash(of: entry, previous: previous)
        return entry.sequence >= keying.keyedFrom ? keying.entryHash(inner, previousTag: previousTag) : inner
    }

    /// The tag entry `sequence` has when it is the head; none before the keyed chain starts.
    func expectedTag(sequence: Int64, hash: String?) -> String? {
        guard sequence >= keying.keyedFrom, let hash else { return nil }
        return keying.headTag(sequence: sequence, hash: hash)
    }
}

extension StoreReader {
    /// The chain to verify the journal with: `base` itself for a store kept in clear, keyed by
    /// the journal key for an encrypted one (`audit verify`).
    package func verificationChain(_ base: some JournalChain) -> any JournalChain {
        guard let keying = journal else { return base }
        return KeyedJournalChain(base: base, keying: keying)
    }

    /// Whether the recorded head is the one the store appended: always for a store kept in
    /// clear (its head carries no tag), for an encrypted one only when its tag matches, so a tail
    /// cut off together with a rewritten head is found.
    package func isAuthentic(_ head: JournalHead) -> Bool {
        guard let keying = journal else { return true }
        // Creating the key appends its first keyed entry, so a head below it was moved back.
        guard head.sequence >= keying.keyedFrom else { return false }
        return head.tag == keying.headTag(sequence: head.sequence, hash: head.hash)
    }

    /// Whether the journal is keyed (an encrypted store).
    package var journalIsKeyed: Bool { journal != nil }
}
