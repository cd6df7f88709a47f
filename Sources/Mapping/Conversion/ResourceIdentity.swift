import EdgeCore
import Synchronization
public import FHIRModel

/// How an Observation's subject, device, identifier and id are derived.
///
/// - `.none`: no identity at all (the dry-run / mapping-debugger view).
/// - `.create(deviceSystem:)`: upstream's Create mode computed offline: Patient and Device ids are
///   SHA-256 hashes of their identifiers, so a gateway can name them before any server is reached.
/// - `.resolving(_:)`: resource ids come from the caller (Lookup mode against a server, cached).
public struct ResourceIdentity: Sendable {
    enum Mode: Sendable {
        case none
        case create(deviceSystem: String?)
        case resolving(@Sendable (MeasurementGroupKey) -> ResolvedResources?)
    }

    let mode: Mode
    /// Create-mode ids of recently seen patients and devices: the same few devices send most
    /// messages, and hashing them again for every message would dominate conversion.
    private let hashedIds = HashedIdCache()

    private init(mode: Mode) {
        self.mode = mode
    }

    public static let none = ResourceIdentity(mode: .none)

    public static func create(deviceSystem: String?) -> ResourceIdentity {
        ResourceIdentity(mode: .create(deviceSystem: deviceSystem))
    }

    /// `resolve` returns the server's resource ids for a group, or nil when the Device (or its
    /// Patient) is not known; that group then fails with `FhirResourceNotFoundException`.
    public static func resolving(_ resolve: @escaping @Sendable (MeasurementGroupKey) -> ResolvedResources?) -> ResourceIdentity {
        ResourceIdentity(mode: .resolving(resolve))
    }

    /// FHIR resource ids of the resources an Observation refers to.
    public struct ResolvedResources: Hashable, Sendable {
        public var patientResourceId: String
        public var deviceResourceId: String
        public var encounterResourceId: String?

        public init(patientResourceId: String, deviceResourceId: String, encounterResourceId: String? = nil) {
            self.patientResourceId = patientResourceId
            self.deviceResourceId = deviceResourceId
            self.encounterResourceId = encounterResourceId
        }
    }

    /// The Observation identifier system upstream uses.
    public static let connectorSystem = "https://azure.microsoft.com/en-us/services/iomt-fhir-connector/"

    /// Deterministic resource id: lowercase hex SHA-256 of `{system}_{value}` (missing system = "").
    public static func hashedId(system: String?, value: String) -> String {
        // Streamed in three parts rather than concatenated: this runs for every Observation.
        var hasher = SHA256()
        if let system { hasher.update(system.utf8) }
        hasher.update("_".utf8)
        hasher.update(value.utf8)
        return hasher.hexDigest()
    }

    /// `hashedId(system: connectorSystem, value:)`, the id of every Observation. The system and
    /// `_` fill exactly one 64-byte SHA-256 block, so the state after it is computed once and
    /// each id hashes only its identifier value.
    static func observationId(identifierValue value: String) -> String {
        var hasher = connectorPrefixHasher
        hasher.update(value.utf8)
        return hasher.hexDigest()
    }

    private static let connectorPrefixHasher: SHA256 = {
        var hasher = SHA256()
        hasher.update(connectorSystem.utf8)
        hasher.update("_".utf8)
        return hasher
    }()

    /// The Patient a Create-mode gateway PUTs (`PUT Patient/<id>`): its identifier only.
    public static func createModePatient(patientId: String) -> Patient {
        Patient(id: hashedId(system: nil, value: patientId), identifier: [Identifier(value: patientId)])
    }

    /// The Device a Create-mode gateway PUTs, linked to its Patient.
    public static func createModeDevice(deviceId: String, system: String?, patientResourceId: String) -> Device {
        Device(
            id: hashedId(system: system, value: deviceId), identifier: [Identifier(system: system, value: deviceId)],
            patient: Reference(reference: "Patient/\(patientResourceId)"))
    }

    /// Resource ids for a group, or the upstream error a group without them gets.
    func resolve(_ key: MeasurementGroupKey) throws(GroupingFailure) -> ResolvedResources? {
        switch mode {
        case .none:
            return nil
        case .create(let deviceSystem):
            guard let patientId = key.patientId, !patientId.isEmpty else {
                throw GroupingFailure(
                    type: "ResourceIdentityNotDefinedException",
                    message: "Create mode needs a patient id for device \(key.deviceId), and the measurements have none (Patient).")
            }
            return ResolvedResources(
                patientResourceId: hashedIds.id(forHashInput: "_" + patientId),
                deviceResourceId: hashedIds.id(forHashInput: (deviceSystem ?? "") + "_" + key.deviceId))
        case .resolving(let resolve):
            guard let resolved = resolve(key) else {
                throw GroupingFailure(
                    type: "FhirResourceNotFoundException",
                    message: "No Device (or no Patient linked to it) is known for device \(key.deviceId).")
            }
            return resolved
        }
    }
}

/// A bounded memo of `hashedId` results, shared by copies of one `ResourceIdentity`.
private final class HashedIdCache: Sendable {
    private let entries = Mutex<[String: String]>([:])
    private static let capacity = 4096

    func id(forHashInput input: String) -> String {
        if let id = entries.withLock({ $0[input] }) { return id }
        let id = SHA256.hexDigest(input)
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[input] = id
        }
        return id
    }
}
