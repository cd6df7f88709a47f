import EdgeCore
import EdgeCrypto
import FHIRConventions
package import FHIRModel

/// How an Observation's subject, device, identifier and id are derived.
///
/// - `.none`: no identity at all (the dry-run / mapping-debugger view).
/// - `.create(deviceSystem:patientSystem:subject:)`: upstream's Create mode computed offline:
///   Patient and Device ids are SHA-256 hashes of their identifiers, so a gateway can name them
///   before any server is reached.
/// - `.lookup(deviceSystem:subject:)`: upstream's Lookup mode, which only the server can answer:
///   the Observation names its Device by a placeholder id (`lookupPlaceholder`) that carries the
///   Device identifier, and the uploader replaces it, and the subject, with the server's ids.
///
/// With `subject: .device` (room and equipment readings) the Observation's subject is its Device
/// and no Patient is involved: the patient id of the measurements is not used, and the Device id
/// takes the patient id's place in the Observation identifier (`{device}.{device}.{type}.{segment}`).
/// - `.resolving(_:)`: resource ids come from the caller (e.g. ids given on the command line).
package struct ResourceIdentity: Sendable {
    enum Mode: Sendable {
        case none
        case create(deviceSystem: String?, patientSystem: String?, subject: ObservationSubject)
        case lookup(deviceSystem: String?, subject: ObservationSubject)
        case resolving(@Sendable (MeasurementGroupKey) -> ResolvedResources?)
    }

    let mode: Mode
    /// Create-mode resources of recently seen devices and patients: the same few devices send
    /// most messages, and hashing their ids again for every message would dominate conversion.
    private let resolvedIds = ResolvedIdCache()

    private init(mode: Mode) {
        self.mode = mode
    }

    package static let none = ResourceIdentity(mode: .none)

    package static func create(deviceSystem: String?, patientSystem: String? = nil, subject: ObservationSubject = .patient) -> ResourceIdentity {
        ResourceIdentity(mode: .create(deviceSystem: deviceSystem, patientSystem: patientSystem, subject: subject))
    }

    package static func lookup(deviceSystem: String?, subject: ObservationSubject = .patient) -> ResourceIdentity {
        ResourceIdentity(mode: .lookup(deviceSystem: deviceSystem, subject: subject))
    }

    /// `resolve` returns the server's resource ids for a group, or nil when the Device (or its
    /// Patient) is not known; that group then fails with `FhirResourceNotFoundException`.
    package static func resolving(_ resolve: @escaping @Sendable (MeasurementGroupKey) -> ResolvedResources?) -> ResourceIdentity {
        ResourceIdentity(mode: .resolving(resolve))
    }

    /// FHIR resource ids of the resources an Observation refers to.
    package struct ResolvedResources: Hashable, Sendable {
        /// The Patient's id; for a Device subject, the Device's id (it fills the same identifier segment).
        package var patientResourceId: String
        package var deviceResourceId: String
        package var encounterResourceId: String?
        /// What the Observation's `subject` names.
        package var subject: ObservationSubject

        package init(patientResourceId: String, deviceResourceId: String, encounterResourceId: String? = nil) {
            self.patientResourceId = patientResourceId
            self.deviceResourceId = deviceResourceId
            self.encounterResourceId = encounterResourceId
            self.subject = .patient
        }

        /// Resources of a reading about a room or a piece of equipment: the Device is the subject.
        package static func deviceSubject(deviceResourceId: String, encounterResourceId: String? = nil) -> ResolvedResources {
            var resolved = ResolvedResources(
                patientResourceId: deviceResourceId, deviceResourceId: deviceResourceId, encounterResourceId: encounterResourceId)
            resolved.subject = .device
            return resolved
        }

        /// The id the Observation's `subject` reference and the first identifier segment use.
        package var subjectResourceId: String { subject == .device ? deviceResourceId : patientResourceId }
    }



    /// `ResourceIds.hashedId(system: connectorSystem, value:)`, the id of every Observation. The system and
    /// `_` fill exactly one 64-byte SHA-256 block, so the state after it is computed once and
    /// each id hashes only its identifier value.
    static func observationId(identifierValue value: String) -> String {
        var hasher = connectorPrefixHasher
        hasher.update(value.utf8)
        return hasher.hexDigest()
    }

    private static let connectorPrefixHasher: SHA256 = {
        var hasher = SHA256()
        hasher.update(ResourceIds.connectorSystem.utf8)
        hasher.update("_".utf8)
        return hasher
    }()

    /// The Patient a Create-mode gateway PUTs (`PUT Patient/<id>`): its identifier only, with the
    /// profile's `identity.patientSystem` when set. The id is `ResourceIds.hashedId(system:value:)` of that
    /// identifier: SHA-256 of `_{patientId}` without a system (ids of existing sites stay as they
    /// were), of `{patientSystem}_{patientId}` with one, as MedTech hashes Device identifiers.
    package static func createModePatient(patientId: String, system: String? = nil) -> Patient {
        Patient(id: ResourceIds.hashedId(system: system, value: patientId), identifier: [Identifier(system: system, value: patientId)])
    }

    /// The Device a Create-mode gateway PUTs, linked to its Patient; without one (a Device that is
    /// itself the subject of its readings) it has no `patient`.
    package static func createModeDevice(deviceId: String, system: String?, patientResourceId: String?) -> Device {
        Device(
            id: ResourceIds.hashedId(system: system, value: deviceId), identifier: [Identifier(system: system, value: deviceId)],
            patient: patientResourceId.map { Reference(reference: "Patient/\($0)") })
    }


    /// Resource ids for a group, or the upstream error a group without them gets.
    func resolve(_ key: MeasurementGroupKey) throws(GroupingFailure) -> ResolvedResources? {
        switch mode {
        case .none:
            return nil
        case .create(let deviceSystem, let patientSystem, let subject):
            if subject == .device {
                // A room or equipment reading: the Device is the subject; a patient id is not used.
                return resolvedIds.resources(deviceId: key.deviceId, patientId: nil) {
                    .deviceSubject(deviceResourceId: ResourceIds.hashedId(system: deviceSystem, value: key.deviceId))
                }
            }
            guard let patientId = key.patientId, !patientId.isEmpty else {
                throw GroupingFailure(
                    type: "ResourceIdentityNotDefinedException",
                    message: "Create mode needs a patient id for device \(key.deviceId), and the measurements have none (Patient).")
            }
            return resolvedIds.resources(deviceId: key.deviceId, patientId: patientId) {
                ResolvedResources(
                    patientResourceId: ResourceIds.hashedId(system: patientSystem, value: patientId),
                    deviceResourceId: ResourceIds.hashedId(system: deviceSystem, value: key.deviceId))
            }
        case .lookup(let deviceSystem, let subject):
            // The measurement's patient id is ignored: the Device's `patient` decides (MedTech).
            let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: deviceSystem, deviceId: key.deviceId)
            if subject == .device { return .deviceSubject(deviceResourceId: placeholder) }
            return ResolvedResources(patientResourceId: placeholder, deviceResourceId: placeholder)
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

/// What an Observation is about: a patient (the measurements' patient id names it), or the
/// Device itself, for readings of a room or a piece of equipment that belong to no patient.
package enum ObservationSubject: String, Sendable, CaseIterable {
    case patient
    case device
}

/// A bounded memo of Create-mode resources by device and patient id (exact text), shared by
/// copies of one `ResourceIdentity`: one lookup per measurement group.
private final class ResolvedIdCache: Sendable {
    private struct Key: Hashable {
        var deviceId: String
        var patientId: String?
    }

    private let entries = Locked<[Key: ResourceIdentity.ResolvedResources]>([:])
    private static let capacity = 4096

    func resources(deviceId: String, patientId: String?, _ compute: () -> ResourceIdentity.ResolvedResources) -> ResourceIdentity.ResolvedResources {
        let key = Key(deviceId: deviceId, patientId: patientId)
        if let resources = entries.withLock({ $0[key] }) { return resources }
        let resources = compute()
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = resources
        }
        return resources
    }
}
