/// Why the gateway did not take a delivery: a stable code for metrics and protocol answers
/// (`unknown-profile`, `high-water-mark`, `disk-full`, `too-large`, `store-error`) and a sentence
/// for the sender. Never holds patient data.
package struct IntakeRefusal: CodedError, Sendable, Equatable {
    package var code: String
    package var reason: String
    /// The store's error behind a `store-error` or `disk-full`; never part of equality, never
    /// sent to the sender.
    package var cause: (any Error)?
    package init(code: String, reason: String, cause: (any Error)? = nil) {
        self.code = code
        self.reason = reason
        self.cause = cause
    }
    package var message: String { reason }
    package var description: String { "\(code): \(reason)" }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.reason == rhs.reason }
}

/// The answer to one delivery, all or nothing.
package enum IntakeDecision: Sendable, Equatable {
    /// Durable in the store: `stored` new messages, `duplicates` already held under their delivery key.
    case accepted(stored: Int, duplicates: Int)
    /// Can never be taken as it is (an unknown profile, larger than the whole store): do not retry.
    case rejected(IntakeRefusal)
    /// Nothing was taken for now (store or disk full, a store error): the sender keeps the
    /// messages and tries again after the interval.
    case retryLater(IntakeRefusal, after: Duration)
}

/// Where every source delivers. A source acknowledges to its device (HTTP 202, an HL7 ACK, an
/// MQTT PUBACK, taking the next BLE value) only after `.accepted`.
package protocol MessageSink: Sendable {
    /// Messages delivered together commit in one transaction, all or nothing, before this returns `.accepted`.
    func deliver(_ messages: [DeviceMessage]) async -> IntakeDecision
}
