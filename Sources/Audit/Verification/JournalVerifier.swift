public import Store

/// The result of walking the journal.
public enum JournalVerification: Sendable, Equatable {
    /// Every entry chains to the one before, sequence numbers are gapless from 1, and the last
    /// entry is the head the store recorded.
    case intact(entries: Int64, head: String?)
    /// The first entry that is not what was appended: edited, inserted, out of order, or
    /// (when `reason` says missing) deleted.
    case broken(firstBadSequence: Int64, reason: String)

    public var isIntact: Bool {
        if case .intact = self { return true }
        return false
    }
}

/// Walks the journal from the first entry and recomputes every hash.
public struct JournalVerifier: Sendable {
    let chain: AuditChain
    let pageSize: Int

    public init(chain: AuditChain = AuditChain(), pageSize: Int = 1000) {
        self.chain = chain
        self.pageSize = max(1, pageSize)
    }

    public func verify(_ reader: StoreReader) async throws(StoreError) -> JournalVerification {
        var expected: Int64 = 1
        var previous: String?
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
                previous = record.hash
                expected += 1
            }
            after = last.entry.sequence
        }
        let head = try await reader.journalHead()
        let count = expected - 1
        switch head {
        case nil where count == 0:
            return .intact(entries: 0, head: nil)
        case nil:
            return .broken(firstBadSequence: 1, reason: "the journal has entries but the store recorded no head: inserted")
        case let head?:
            if head.sequence > count {
                return .broken(firstBadSequence: count + 1, reason: "entries \(count + 1) to \(head.sequence) are missing: deleted from the end")
            }
            if head.sequence < count {
                return .broken(firstBadSequence: head.sequence + 1, reason: "entry \(head.sequence + 1) follows the recorded head: inserted")
            }
            guard head.hash == previous else {
                return .broken(firstBadSequence: count, reason: "the last entry does not match the recorded head hash")
            }
            return .intact(entries: count, head: previous)
        }
    }
}
