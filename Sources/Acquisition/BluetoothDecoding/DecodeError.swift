/// Why a characteristic value, advert or number could not be decoded: what was being read, at which
/// byte offset, and why. Never carries the payload itself (it may be patient data).
package struct DecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; a struct so that new kinds do not break callers that switch on it.
    package struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package let rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// The bytes end before a field the layout (or the flags) announces.
        package static let truncated = Reason(rawValue: "truncated")
        /// A field holds a value the specification reserves.
        package static let reservedValue = Reason(rawValue: "reserved value")
        /// The flags describe a layout that cannot be decoded.
        package static let badFlags = Reason(rawValue: "bad flags")
        /// The format version is not one this decoder reads (BTHome v1, a future version).
        package static let unsupportedVersion = Reason(rawValue: "unsupported version")
        /// The advert is encrypted and no bind key was given.
        package static let encrypted = Reason(rawValue: "encrypted")
        /// Decryption failed: a wrong bind key, or the bytes were altered.
        package static let decryptionFailed = Reason(rawValue: "decryption failed")
        /// An AD structure's length runs past the end of the advertising data.
        package static let malformed = Reason(rawValue: "malformed")
    }

    /// What was being decoded: `Heart Rate Measurement (0x2A37)`, `BTHome v2`, `advertising data`.
    package let subject: String
    /// The field being read when decoding stopped, when there is one.
    package let field: String?
    /// Byte offset into the value where the failing field starts.
    package let offset: Int
    package let reason: Reason
    /// A short explanation, free of payload bytes.
    package let detail: String

    package init(subject: String, field: String?, offset: Int, reason: Reason, detail: String) {
        self.subject = subject
        self.field = field
        self.offset = offset
        self.reason = reason
        self.detail = detail
    }

    package var description: String {
        let place = field.map { "\($0) at byte \(offset)" } ?? "byte \(offset)"
        return "\(subject): \(reason) (\(place)): \(detail)"
    }
}
