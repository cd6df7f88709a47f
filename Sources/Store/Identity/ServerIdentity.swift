package import EdgeCore

/// What the upstream server calls the Device or Patient with one business identifier: the
/// identity map the uploader keeps so that Observations point at the server's resources.
package struct ServerIdentity: Sendable, Equatable {
    /// `Device` or `Patient`.
    package var resourceType: String
    /// The identifier's system, "" when it has none.
    package var system: String
    package var value: String
    /// The id the gateway's own resources use for it (Create mode's hashed id), if any.
    package var localID: String?
    /// The server's id; nil after the server said it is gone, until resolved again.
    package var serverID: String?
    package var serverVersion: String?
    /// `meta.lastUpdated` as the server wrote it.
    package var lastUpdated: String?
    /// For a Device: the server id of the Patient its `patient` names.
    package var patientServerID: String?
    /// When the server last confirmed it (the uploader's clock).
    package var resolvedAt: Timestamp

    package init(resourceType: String, system: String, value: String, localID: String? = nil, serverID: String?,
                serverVersion: String? = nil, lastUpdated: String? = nil, patientServerID: String? = nil, resolvedAt: Timestamp) {
        self.resourceType = resourceType
        self.system = system
        self.value = value
        self.localID = localID
        self.serverID = serverID
        self.serverVersion = serverVersion
        self.lastUpdated = lastUpdated
        self.patientServerID = patientServerID
        self.resolvedAt = resolvedAt
    }
}
