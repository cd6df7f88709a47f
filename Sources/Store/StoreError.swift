import EdgeCore

/// A failure of the store, with a code to branch on, a message that says what to do, where it
/// happened and the underlying cause. Messages never contain payloads or statement arguments.
package struct StoreError: Error, Sendable, CustomStringConvertible {
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package let rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// Unsynced data fills the store and the policy forbids evicting it: refuse new data (503).
        package static let highWaterMark = Code(rawValue: "high-water-mark")
        /// A batch larger than the whole store's byte bound can never be accepted.
        package static let tooLarge = Code(rawValue: "too-large")
        package static let notFound = Code(rawValue: "not-found")
        /// The operation does not apply to the row in its current state (e.g. completing an unclaimed message).
        package static let invalidState = Code(rawValue: "invalid-state")
        /// A journal row could not be read back (its stored JSON was altered).
        package static let corruptJournal = Code(rawValue: "corrupt-journal")
        /// The file is missing or is not a fhir-edge store.
        package static let notAStore = Code(rawValue: "not-a-store")
        package static let database = Code(rawValue: "database")
        /// The store's key could not be read (missing file, unset variable, unsafe permissions, not 256 bits).
        package static let keyUnavailable = Code(rawValue: "key-unavailable")
        /// The store is encrypted and was opened without a key.
        package static let keyRequired = Code(rawValue: "key-required")
        /// The key given does not unwrap the store's data key.
        package static let wrongKey = Code(rawValue: "wrong-key")
        /// An encrypted field does not authenticate (altered, moved between rows, or another data key).
        package static let corruptRow = Code(rawValue: "corrupt-row")
        /// The file system holding the store is full: nothing was written; retry once space is freed.
        package static let diskFull = Code(rawValue: "disk-full")
        /// The calling task was cancelled (shutdown); nothing was committed.
        package static let cancelled = Code(rawValue: "cancelled")
        /// A field kit that cannot be taken: already imported, older than one imported, or signed by another key than the source's.
        package static let kitRefused = Code(rawValue: "kit-refused")
    }

    package var code: Code
    package var message: String
    /// Where: a table and row (`inbox/12`), a journal sequence number (`journal/57`) or a file path.
    package var location: String?
    package var cause: (any Error)?

    package init(_ code: Code, _ message: String, location: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.cause = cause
    }

    package var description: String {
        var text = "store error [\(code)]"
        if let location { text += " at \(location)" }
        text += ": \(message)"
        // A DatabaseError's description carries the SQL but never its arguments (no patient data).
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

extension StoreError: CodedError {}
