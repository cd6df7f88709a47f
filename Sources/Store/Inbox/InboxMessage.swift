public import EdgeCore

/// A raw device message as the inbox keeps it, before mapping.
public struct InboxMessage: Sendable, Equatable {
    public var profile: ProfileID
    public var transport: Transport
    /// The source or client that delivered it (HTTP client id, BLE adapter, Modbus connection).
    public var sourceID: String
    public var deviceID: String?
    /// Gateway receive time.
    public var receivedAt: Timestamp
    /// The device's own time for the message, when it reports one.
    public var deviceTime: Timestamp?
    public var payload: [UInt8]
    /// The source's redelivery key (`DeviceMessage.deliveryKey`): one stored message per key and profile.
    public var deliveryKey: String?

    public init(profile: ProfileID, transport: Transport, sourceID: String, deviceID: String? = nil,
                receivedAt: Timestamp, deviceTime: Timestamp? = nil, payload: [UInt8], deliveryKey: String? = nil) {
        self.profile = profile
        self.transport = transport
        self.sourceID = sourceID
        self.deviceID = deviceID
        self.receivedAt = receivedAt
        self.deviceTime = deviceTime
        self.payload = payload
        self.deliveryKey = deliveryKey
    }

    /// `message` as received at `receivedAt`.
    public init(_ message: DeviceMessage, receivedAt: Timestamp) {
        self.init(
            profile: message.profile, transport: message.transport, sourceID: message.sourceID, deviceID: message.deviceID,
            receivedAt: receivedAt, payload: message.payload, deliveryKey: message.deliveryKey)
    }
}

/// What `Store.receive` did with a batch.
public struct InboxReceipt: Sendable, Equatable {
    /// One id per message, in order; a duplicate gets the id of the message first stored under its key.
    public var ids: [InboxID]
    /// How many of the batch were already held under their delivery key (not stored again).
    public var duplicates: Int

    public init(ids: [InboxID], duplicates: Int) {
        self.ids = ids
        self.duplicates = duplicates
    }
}

/// A message claimed from the inbox for mapping.
public struct InboxItem: Sendable, Equatable {
    public var id: InboxID
    public var message: InboxMessage
    /// How often this message came back from the dead letters.
    public var replayCount: Int

    public init(id: InboxID, message: InboxMessage, replayCount: Int = 0) {
        self.id = id
        self.message = message
        self.replayCount = replayCount
    }
}

/// The outcome of mapping a batch of claimed messages, committed in one transaction.
public struct MappingResult: Sendable {
    /// Every claimed message this result settles: those that produced resources, those that
    /// produced nothing, and those that failed.
    public var inboxIDs: [InboxID]
    public var resources: [OutboxResource]
    public var failures: [MappingFailure]
    /// Extra entries from the caller, appended after the store's own.
    public var journal: [JournalEvent]

    public init(inboxIDs: [InboxID], resources: [OutboxResource] = [], failures: [MappingFailure] = [], journal: [JournalEvent] = []) {
        self.inboxIDs = inboxIDs
        self.resources = resources
        self.failures = failures
        self.journal = journal
    }
}

/// A message that could not be mapped: it moves to the dead letters with its error.
public struct MappingFailure: Sendable, Equatable {
    public var inboxID: InboxID
    /// Where it failed: `device-mapping`, `fhir-mapping`, `validation`, ...
    public var stage: String
    public var errorType: String
    /// Says what went wrong and where; shown to operators, never journaled.
    public var errorMessage: String
    public var templateVersion: String?

    public init(inboxID: InboxID, stage: String, errorType: String, errorMessage: String, templateVersion: String? = nil) {
        self.inboxID = inboxID
        self.stage = stage
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.templateVersion = templateVersion
    }
}
