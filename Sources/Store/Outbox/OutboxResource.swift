package import EdgeCore
package import JSONQuery

/// A FHIR resource ready to upload.
package struct OutboxResource: Sendable, Equatable {
    /// The message it was mapped from, if any.
    package var inboxID: InboxID?
    package var resourceType: String
    package var resourceID: String
    /// The deterministic identity (e.g. `system|value` of its identifier). At most one pending
    /// row per identity: a newer resource with the same identity replaces the pending body.
    package var identityKey: String
    /// Compact JSON text of the resource.
    package var body: String

    package init(inboxID: InboxID?, resourceType: String, resourceID: String, identityKey: String, body: String) {
        self.inboxID = inboxID
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.identityKey = identityKey
        self.body = body
    }

    package init(inboxID: InboxID?, resourceType: String, resourceID: String, identityKey: String, json: JSONValue) {
        self.init(inboxID: inboxID, resourceType: resourceType, resourceID: resourceID, identityKey: identityKey,
                  body: JSONWriter().string(json))
    }

    /// From compact JSON text the caller has already written (e.g. a model type serialising
    /// itself straight to bytes), so that no tree is built just to be written out again.
    package init(inboxID: InboxID?, resourceType: String, resourceID: String, identityKey: String, jsonText: [UInt8]) {
        self.init(inboxID: inboxID, resourceType: resourceType, resourceID: resourceID, identityKey: identityKey,
                  body: String(decoding: jsonText, as: UTF8.self))
    }
}

/// Where an outbox row is in its life.
package enum OutboxState: String, Sendable, CaseIterable {
    case pending, leased, sent
}

/// A leased resource, to be sent and then settled.
package struct OutboxItem: Sendable, Equatable {
    package var id: OutboxID
    package var resource: OutboxResource
    /// Leases so far, this one included.
    package var attempts: Int

    package init(id: OutboxID, resource: OutboxResource, attempts: Int) {
        self.id = id
        self.resource = resource
        self.attempts = attempts
    }
}

/// Resources handed to the uploader until `expiresAt`; after that they may be leased again.
package struct OutboxLease: Sendable, Equatable {
    package var id: Int64
    package var expiresAt: Timestamp
    package var items: [OutboxItem]

    package init(id: Int64, expiresAt: Timestamp, items: [OutboxItem]) {
        self.id = id
        self.expiresAt = expiresAt
        self.items = items
    }
}

/// How an upload attempt ended for one resource: the uploader's three words.
package enum OutboxOutcome: Sendable, Equatable {
    /// The server stored it (2xx); its id and version are kept.
    case accept(serverID: String?, serverVersion: String?)
    /// The server refused it for good (4xx with an OperationOutcome): dead letter, never retried.
    case reject(errorType: String, errorMessage: String)
    /// Try again (408, 429, 5xx, network), not before `retryAt` when given (Retry-After, backoff).
    case keep(retryAt: Timestamp?)
}

package struct OutboxSettlement: Sendable, Equatable {
    package var id: OutboxID
    package var outcome: OutboxOutcome

    package init(_ id: OutboxID, _ outcome: OutboxOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

/// What `settle` did.
package struct SettleReport: Sendable, Equatable {
    package var accepted = 0
    package var rejected: [DeadLetterID] = []
    package var kept = 0
    /// Settlements for rows this lease no longer holds (expired and leased again, or gone); ignored.
    package var stale: [OutboxID] = []
}
