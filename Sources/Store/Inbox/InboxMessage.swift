package import EdgeCore

/// A raw device message as the inbox keeps it, before mapping.
package struct InboxMessage: Sendable, Equatable {
    package var profile: ProfileID
    package var transport: Transport
    /// The source or client that delivered it (HTTP client id, BLE adapter, Modbus connection).
    package var sourceID: String
    package var deviceID: String?
    /// Gateway receive time.
    package var receivedAt: Timestamp
    /// The device's own time for the message, when it reports one.
    package var deviceTime: Timestamp?
    package var payload: [UInt8]
    /// The source's redelivery key (`DeviceMessage.deliveryKey`): one stored message per key and profile.
    package var deliveryKey: String?

    package init(profile: ProfileID, transport: Transport, sourceID: String, deviceID: String? = nil,
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
    package init(_ message: DeviceMessage, receivedAt: Timestamp) {
        self.init(
            profile: message.profile, transport: message.transport, sourceID: message.sourceID, deviceID: message.deviceID,
            receivedAt: receivedAt, payload: message.payload, deliveryKey: message.deliveryKey)
    }
}

/// What `Store.receive` did with a batch.
package struct InboxReceipt: Sendable, Equatable {
    /// One id per message, in order; a duplicate gets the id of the message first stored under its key.
    package var ids: [InboxID]
    /// How many of the batch were already held under their delivery key (not stored again).
    package var duplicates: Int

    package init(ids: [InboxID], duplicates: Int) {
        self.ids = ids
        self.duplicates = duplicates
    }
}

/// A message claimed from the inbox for mapping.
package struct InboxItem: Sendable, Equatable {
    package var id: InboxID
    package var message: InboxMessage
    /// How often this message came back from the dead letters.
    package var replayCount: Int

    package init(id: InboxID, message: InboxMessage, replayCount: Int = 0) {
        self.id = id
        self.message = message
        self.replayCount = replayCount
    }
}

/// The outcome of mapping a batch of claimed messages, committed in one transaction.
package struct MappingResult: Sendable {
    /// Every claimed message this result settles: those that produced resources, those that
    /// produced nothing, and those that failed.
    package var inboxIDs: [InboxID]
    package var resources: [OutboxResource]
    package var failures: [MappingFailure]
    /// Extra entries from the caller, appended after the store's own.
    package var journal: [JournalEvent]

    package init(inboxIDs: [InboxID], resources: [OutboxResource] = [], failures: [MappingFailure] = [], journal: [JournalEvent] = []) {
        self.inboxIDs = inboxIDs
        self.resources = resources
        self.failures = failures
        self.journal = journal
    }
}

/// A message that could not be mapped: it moves to the dead letters with its error.
package struct MappingFailure: Sendable, Equatable {
    package var inboxID: InboxID
    /// Where it failed: `device-mapping`, `fhir-mapping`, `validation`, ...
    package var stage: String
    package var errorType: String
    /// Says what went wrong and where; shown to operators, never journaled.
    package var errorMessage: String
    package var templateVersion: String?

    package init(inboxID: InboxID, stage: String, errorType: String, errorMessage: String, templateVersion: String? = nil) {
        self.inboxID = inboxID
        self.stage = stage
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.templateVersion = templateVersion
    }
}
