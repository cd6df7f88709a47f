public import EdgeCore

/// A failure of the store, with a code to branch on, a message that says what to do, where it
/// happened and the underlying cause. Messages never contain payloads or statement arguments.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Unsynced data fills the store and the policy forbids evicting it: refuse new data (503).
        public static let highWaterMark = Code(rawValue: "high-water-mark")
        /// A batch larger than the whole store's byte bound can never be accepted.
        public static let tooLarge = Code(rawValue: "too-large")
        public static let notFound = Code(rawValue: "not-found")
        /// The operation does not apply to the row in its current state (e.g. completing an unclaimed message).
        public static let invalidState = Code(rawValue: "invalid-state")
        /// A journal row could not be read back (its stored JSON was altered).
        public static let corruptJournal = Code(rawValue: "corrupt-journal")
        /// The file is missing or is not a fhir-edge store.
        public static let notAStore = Code(rawValue: "not-a-store")
        public static let database = Code(rawValue: "database")
        /// The store's key could not be read (missing file, unset variable, unsafe permissions, not 256 bits).
        public static let keyUnavailable = Code(rawValue: "key-unavailable")
        /// The store is encrypted and was opened without a key.
        public static let keyRequired = Code(rawValue: "key-required")
        /// The key given does not unwrap the store's data key.
        public static let wrongKey = Code(rawValue: "wrong-key")
        /// An encrypted field does not authenticate (altered, moved between rows, or another data key).
        public static let corruptRow = Code(rawValue: "corrupt-row")
        /// The file system holding the store is full: nothing was written; retry once space is freed.
        public static let diskFull = Code(rawValue: "disk-full")
        /// The calling task was cancelled (shutdown); nothing was committed.
        public static let cancelled = Code(rawValue: "cancelled")
        /// A field kit that cannot be taken: already imported, older than one imported, or signed by another key than the source's.
        public static let kitRefused = Code(rawValue: "kit-refused")
    }

    public var code: Code
    public var message: String
    /// Where: a table and row (`inbox/12`), a journal sequence number (`journal/57`) or a file path.
    public var location: String?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, location: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.cause = cause
    }

    public var description: String {
        var text = "store error [\(code)]"
        if let location { text += " at \(location)" }
        text += ": \(message)"
        // GRDB's DatabaseError descriptions carry the SQL but not its arguments (no patient data).
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

extension StoreError: CodedError {}
