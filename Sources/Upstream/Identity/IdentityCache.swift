import EdgeCore
import EdgeCrypto
import Store

/// A Device or Patient business identifier: what the identity map is keyed by.
struct IdentityKey: Hashable, Sendable, CustomStringConvertible {
    var resourceType: String
    /// "" when the identifier has no system.
    var system: String
    var value: String

    init(_ resourceType: String, system: String?, value: String) {
        self.resourceType = resourceType
        self.system = system ?? ""
        self.value = value
    }

    init(_ identity: ServerIdentity) {
        self.init(identity.resourceType, system: identity.system, value: identity.value)
    }

    /// `system|value`, or the value alone, as a search or `ifNoneExist` names it.
    var token: String { system.isEmpty ? value : system + "|" + value }

    /// How logs, journal entries and errors name it: a Device by its identifier; a Patient only
    /// by the hash of its identifier, since a patient identifier is patient data.
    var description: String {
        resourceType == "Patient" ? "Patient identifier sha256:\(SHA256.hexDigest(token))" : "\(resourceType) \(token)"
    }
}

/// The uploader's map of server ids: loaded from the store once, written through on every
/// answer from the server. Entries younger than `refreshAfter` are used without asking the
/// server; older ones are read by id first (a 404/410 invalidates them), so that a Device moved
/// to another patient, or a resource deleted on the server, is noticed.
struct IdentityCache: Sendable {
    enum Decision: Equatable, Sendable {
        /// Use it as is.
        case fresh(ServerIdentity)
        /// Known, but old: read it by id before use.
        case stale(ServerIdentity)
        /// Never resolved, or invalidated (the entry, if any, keeps the gateway's own id).
        case unresolved(ServerIdentity?)
    }

    let refreshAfter: Duration
    private(set) var isLoaded = false
    private var entries: [IdentityKey: ServerIdentity] = [:]
    /// `Type/localID` → key, for the references Create mode writes (`Patient/<hash>`).
    private var localIDs: [String: IdentityKey] = [:]

    init(refreshAfter: Duration) {
        self.refreshAfter = refreshAfter
    }

    mutating func load(_ identities: [ServerIdentity]) {
        for identity in identities { remember(identity) }
        isLoaded = true
    }

    func decide(_ key: IdentityKey, now: Timestamp) -> Decision {
        guard let entry = entries[key], entry.serverID != nil else { return .unresolved(entries[key]) }
        let age = now.millisecondsSinceEpoch - entry.resolvedAt.millisecondsSinceEpoch
        return age < refreshAfter.wholeMilliseconds ? .fresh(entry) : .stale(entry)
    }

    /// The identifier behind a reference to the gateway's own id (`Patient/<hash>`), if known.
    func key(localReference type: String, id: String) -> IdentityKey? {
        localIDs[type + "/" + id]
    }

    subscript(key: IdentityKey) -> ServerIdentity? { entries[key] }

    mutating func remember(_ identity: ServerIdentity) {
        let key = IdentityKey(identity)
        var merged = identity
        if merged.localID == nil { merged.localID = entries[key]?.localID }
        entries[key] = merged
        if let local = merged.localID { localIDs[identity.resourceType + "/" + local] = key }
    }

    /// The server no longer has it: keep the identifier (and the gateway's id), drop the server's.
    mutating func invalidate(_ key: IdentityKey, now: Timestamp) -> ServerIdentity? {
        guard var entry = entries[key] else { return nil }
        entry.serverID = nil
        entry.serverVersion = nil
        entry.lastUpdated = nil
        entry.patientServerID = nil
        entry.resolvedAt = now
        entries[key] = entry
        return entry
    }
}
