package import EdgeCore

/// A message or resource that failed for good, kept with its error until an operator replays
/// or the policy evicts it.
package struct DeadLetter: Sendable, Equatable {
    package enum Origin: Sendable, Equatable {
        case inbox(InboxID)
        case outbox(OutboxID)
    }

    package var id: DeadLetterID
    package var origin: Origin
    /// `device-mapping`, `fhir-mapping`, `upload`, ...
    package var stage: String
    package var errorType: String
    package var errorMessage: String
    package var templateVersion: String?
    package var replayCount: Int
    package var createdAt: Timestamp
    package var size: Int
    /// For inbox dead letters: the message's profile, transport and device, as received.
    package var profile: ProfileID?
    package var transport: Transport?
    package var deviceID: String?
    /// For outbox dead letters: the resource's type and id.
    package var resourceType: String?
    package var resourceID: String?
    /// The raw message or resource JSON; filled by `deadLetter(_:)`, nil in listings.
    package var payload: [UInt8]?
}

/// Where a replayed dead letter went.
package enum ReplayDestination: Sendable, Equatable {
    case inbox(InboxID)
    case outbox(OutboxID)
}
