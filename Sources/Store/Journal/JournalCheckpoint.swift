import Crypto
import EdgeCore
package import FoundationEssentials
package import JSONQuery

/// Checkpoints: every `interval` entries the store appends a `journal.checkpoint` entry naming
/// the entry before it (`through`, `hash`) and, in an encrypted store, signing
/// `"fhir-edge journal checkpoint v1|<through>|<hash>"` with the journal signing key (Ed25519,
/// `publicKey` in hex beside it). A checkpoint exported off the box (an AuditEvent upstream, an
/// export manifest) is a witness: whoever holds it can later tell whether the journal still
/// holds that entry with that hash, and can check the signature with the public key alone.
package enum JournalCheckpoint {
    package static let interval: Int64 = 1000

    static func statement(through sequence: Int64, hash: String) -> Data {
        Data("fhir-edge journal checkpoint v1|\(sequence)|\(hash)".utf8)
    }

    /// The details of a checkpoint or pruning record for entry `sequence` with `hash`.
    static func details(through sequence: Int64, hash: String, keying: JournalKeying?) throws -> JSONObject {
        var details: JSONObject = ["through": .int(sequence), "hash": .string(hash)]
        if let keying {
            let key = try keying.signingKey()
            let signature = try key.signature(for: statement(through: sequence, hash: hash))
            details["signature"] = .string(Data(signature).base64EncodedString())
            details["publicKey"] = .string(Hex.string(key.publicKey.rawRepresentation))
        }
        return details
    }

    /// Whether `details` carry a valid signature by `publicKey` over their own `through` and `hash`.
    package static func isSigned(_ details: JSONObject, by publicKey: Data) -> Bool {
        guard case .int(let sequence)? = details["through"], case .string(let hash)? = details["hash"],
              case .string(let text)? = details["signature"], let signature = Data(base64Encoded: text),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: statement(through: sequence, hash: hash))
    }
}

extension StoreReader {
    /// The journal signing key's public half (32 bytes, Ed25519); nil for a store kept in clear.
    package func journalPublicKey() throws -> Data? {
        try journal.map { try $0.signingKey().publicKey.rawRepresentation }
    }

    /// The last entry removed by journal retention and its hash: the verifier chains from it.
    package func journalBase() async throws(StoreError) -> JournalHead? {
        try await read("read journal base") { db in try JournalRetention.base(db) }
    }

    /// Whether the record of pruned entries is the one retention wrote (always in a clear store).
    package func isAuthenticBase(_ base: JournalHead) -> Bool {
        guard let keying = journal else { return true }
        return base.tag == keying.baseTag(sequence: base.sequence, hash: base.hash)
    }
}

extension Store {
    /// Appends a checkpoint naming the current head (signed in an encrypted store) and returns
    /// it; nil when the journal is empty or its head already is a checkpoint (nothing new to witness).
    package func checkpointJournal() async throws(StoreError) -> JournalRecord? {
        let (chain, time) = (self.chain, now())
        return try await write("journal checkpoint") { db -> JournalRecord? in
            guard let head = try JournalTable.head(db) else { return nil }
            let kind = try String.fetchOne(db, sql: "SELECT kind FROM journal WHERE seq = ?", arguments: [head.sequence])
            guard kind != JournalKind.journalCheckpoint.rawValue else { return nil }
            let details = try JournalCheckpoint.details(through: head.sequence, hash: head.hash, keying: (chain as? KeyedJournalChain)?.keying)
            try JournalTable.append([JournalEvent(kind: .journalCheckpoint, actor: "store", details: details)], at: time, chain: chain, db)
            return try JournalTable.records(after: head.sequence, limit: 1, db).first
        }
    }
}
