package import Store
import FoundationEssentials
import JSONQuery

/// The result of walking the journal.
package enum JournalVerification: Sendable, Equatable {
    /// Every entry chains to the one before, sequence numbers are gapless from 1, and the last
    /// entry is the head the store recorded.
    case intact(entries: Int64, head: String?)
    /// The first entry that is not what was appended: edited, inserted, out of order, or
    /// (when `reason` says missing) deleted.
    case broken(firstBadSequence: Int64, reason: String)

    package var isIntact: Bool {
        if case .intact = self { return true }
        return false
    }
}

/// Walks the journal from the first entry and recomputes every hash.
package struct JournalVerifier: Sendable {
    let chain: AuditChain
    let pageSize: Int

    package init(chain: AuditChain = AuditChain(), pageSize: Int = 1000) {
        self.chain = chain
        self.pageSize = max(1, pageSize)
    }

    /// Safe to run from a second process while the daemon appends: entries appended during the
    /// walk are either verified or left for the next run, never reported as tampering.
    ///
    /// An encrypted store's journal is verified with its journal key: entries must carry the
    /// keyed hashes and the recorded head its tag, so neither an edit followed by rehashing nor
    /// a cut tail with a rewritten head passes without the key.
    package func verify(_ reader: StoreReader) async throws(StoreError) -> JournalVerification {
        let chain = reader.verificationChain(self.chain)
        let headBefore = try await reader.journalHead()
        var hashAtHeadBefore: String?
        var expected: Int64 = 1
        var previous: String?
        // Entries removed by journal retention: the chain goes on from the last one's hash.
        let base = try await reader.journalBase()
        if let base {
            guard reader.isAuthenticBase(base) else {
                return .broken(firstBadSequence: base.sequence + 1,
                    reason: "the record of entries removed by retention (up to \(base.sequence)) does not carry the journal key's tag: entries were cut from the start")
            }
            expected = base.sequence + 1
            previous = base.hash
        }
        let publicKey: Data?
        do { publicKey = try reader.journalPublicKey() } catch {
            return .broken(firstBadSequence: expected, reason: "the journal signing key could not be derived: \(error)")
        }
        var after = Int64.min
        var limit = pageSize
        while true {
            let page: [JournalRecord]
            do {
                page = try await reader.journal(after: after, limit: limit)
            } catch where error.code == .corruptJournal {
                // Some row in this page cannot be read back: walk it one row at a time to name
                // the first bad entry exactly.
                if limit > 1 { limit = 1; continue }
                let sequence = Int64(error.location?.split(separator: "/").last ?? "") ?? expected
                if sequence > expected {
                    return .broken(firstBadSequence: expected, reason: "entry \(expected) is missing: deleted")
                }
                return .broken(firstBadSequence: sequence, reason: error.message)
            }
            guard let last = page.last else { break }
            for record in page {
                let sequence = record.entry.sequence
                if sequence < expected {
                    return .broken(firstBadSequence: sequence, reason: "entry \(sequence) is out of sequence (expected \(expected)): inserted or renumbered")
                }
                if sequence > expected {
                    return .broken(firstBadSequence: expected, reason: "entry \(expected) is missing: deleted")
                }
                guard chain.hash(of: record.entry, previous: previous) == record.hash else {
                    return .broken(firstBadSequence: sequence, reason: "entry \(sequence) does not match its hash: edited, inserted or reordered")
                }
                let kind = record.entry.kind
                if kind == .journalCheckpoint || kind == .journalPruned {
                    if let problem = Self.checkCheckpoint(record, previous: previous, publicKey: publicKey) { return problem }
                }
                if sequence == headBefore?.sequence { hashAtHeadBefore = record.hash }
                previous = record.hash
                expected += 1
            }
            after = last.entry.sequence
        }
        let count = expected - 1
        let entries = count - (base?.sequence ?? 0)
        // The head read after the walk covers everything the walk could have seen.
        let headAfter = try await reader.journalHead()
        guard let headAfter else {
            if reader.journalIsKeyed {
                return .broken(firstBadSequence: 1, reason: "the journal of an encrypted store has no recorded head: entries and head were removed")
            }
            return count == 0
                ? .intact(entries: 0, head: nil)
                : .broken(firstBadSequence: 1, reason: "the journal has entries but the store recorded no head: inserted")
        }
        if count > headAfter.sequence {
            return .broken(firstBadSequence: headAfter.sequence + 1, reason: "entry \(headAfter.sequence + 1) follows the recorded head: inserted")
        }
        if count == headAfter.sequence {
            guard headAfter.hash == previous else {
                return .broken(firstBadSequence: count, reason: "the last entry does not match the recorded head hash")
            }
            guard reader.isAuthentic(headAfter) else {
                return .broken(firstBadSequence: count + 1,
                    reason: "the recorded head (entry \(count)) does not carry the journal key's tag: entries after it were cut and the head rewritten")
            }
            return .intact(entries: entries, head: previous)
        }
        // Fewer entries than the head says: either appended while we walked, or cut off the end.
        guard count >= headBefore?.sequence ?? 0 else {
            let missing = count + 1
            return .broken(firstBadSequence: missing, reason: "entries \(missing) to \(headAfter.sequence) are missing: deleted from the end")
        }
        if let headBefore, hashAtHeadBefore != headBefore.hash {
            return .broken(firstBadSequence: headBefore.sequence, reason: "entry \(headBefore.sequence) does not match the recorded head hash")
        }
        return .intact(entries: entries, head: previous)
    }

    /// A checkpoint names the entry before it; a pruning record the base. In an encrypted store
    /// both are signed with the journal signing key.
    static func checkCheckpoint(_ record: JournalRecord, previous: String?, publicKey: Data?) -> JournalVerification? {
        let sequence = record.entry.sequence
        let details = record.entry.details
        if record.entry.kind == .journalCheckpoint {
            guard details["through"] == .int(sequence - 1), details["hash"] == previous.map(JSONValue.string) else {
                return .broken(firstBadSequence: sequence, reason: "checkpoint \(sequence) does not name the entry before it")
            }
        }
        if let publicKey, !JournalCheckpoint.isSigned(details, by: publicKey) {
            return .broken(firstBadSequence: sequence, reason: "checkpoint \(sequence) is not signed by this gateway's journal key")
        }
        return nil
    }
}
