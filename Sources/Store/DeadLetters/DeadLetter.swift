public import EdgeCore

/// A message or resource that failed for good, kept with its error until an operator replays
/// or the policy evicts it.
public struct DeadLetter: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        case inbox(InboxID)
        case outbox(OutboxID)
    }

    public var id: DeadLetterID
    public var origin: Origin
    /// `device-mapping`, `fhir-mapping`, `upload`, ...
    public var stage: String
    public var errorType: String
    public var errorMessage: String
    public var templateVersion: String?
    public var replayCount: Int
    public var createdAt: Timestamp
    public var size: Int
    /// For inbox dead letters: the message's profile, transport and device, as received.
    public var profile: ProfileID?
    public var transport: Transport?
    public var deviceID: String?
    /// For outbox dead letters: the resource's type and id.
    public var resourceType: String?
    public var resourceID: String?
    /// The raw message or resource JSON; filled by `deadLetter(_:)`, nil in listings.
    public var payload: [UInt8]?
}

/// Where a replayed dead letter went.
public enum ReplayDestination: Sendable, Equatable {
    case inbox(InboxID)
    case outbox(OutboxID)
}
