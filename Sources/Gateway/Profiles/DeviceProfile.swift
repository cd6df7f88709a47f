package import EdgeCore
package import Mapping

/// One device model's compiled templates: what the mapping stage runs for messages posted to
/// `/ingest/{profile}`.
package struct DeviceProfile: Sendable {
    package var id: ProfileID
    package var deviceTemplates: DeviceTemplateCollection
    package var converter: ObservationConverter
    /// SHA-256 (hex) over the template files and `profile.yaml`: dead letters and the journal
    /// name the exact templates that failed or succeeded, so a fixed template is recognisable.
    package var templateVersion: String
    /// System of the Device identifier (`profile.yaml` `identity.deviceSystem`).
    package var deviceSystem: String?
    /// System of the Patient identifier the gateway creates (`profile.yaml` `identity.patientSystem`).
    package var patientSystem: String?
    /// How Observations find their Patient and Device (`profile.yaml` `identity.mode`).
    package var identityMode: IdentityMode
    /// What the Observations are about (`profile.yaml` `identity.subject`): a patient, or the
    /// Device itself for room and equipment readings.
    package var subject: ObservationSubject
    /// What loads but costs data or surprises: `config check` prints these, the daemon logs them.
    package var warnings: [ConfigurationProblem]
    /// What the Devices this profile creates are (`profile.yaml` `device:`); nil: identity only.
    package var deviceTemplate: DeviceTemplate?

    /// MedTech's resource identity modes.
    package enum IdentityMode: String, Sendable, CaseIterable {
        /// The gateway names (and the uploader creates) a Patient and a Device per device and patient id.
        case create
        /// The Device (with its `patient`) must already be on the server; the uploader finds it.
        case lookup
    }

    package init(
        id: ProfileID, deviceTemplates: DeviceTemplateCollection, converter: ObservationConverter, templateVersion: String,
        deviceSystem: String? = nil, patientSystem: String? = nil, identityMode: IdentityMode = .create,
        subject: ObservationSubject = .patient, warnings: [ConfigurationProblem] = []
    ) {
        self.warnings = warnings
        self.id = id
        self.deviceSystem = deviceSystem
        self.patientSystem = patientSystem
        self.identityMode = identityMode
        self.subject = subject
        self.deviceTemplates = deviceTemplates
        self.converter = converter
        self.templateVersion = templateVersion
    }

    /// The profile's whole mapping, as the daemon and every command run it.
    package var pipeline: MappingPipeline {
        MappingPipeline(
            deviceTemplates: deviceTemplates, converter: converter, resources: identityMode == .lookup ? .lookup : .create,
            deviceSystem: deviceSystem, patientSystem: patientSystem, subject: subject, deviceTemplate: deviceTemplate)
    }
}

/// Every profile the gateway serves, by name.
package struct DeviceProfileCatalog: Sendable {
    package private(set) var profiles: [String: DeviceProfile]

    package init(_ profiles: [DeviceProfile]) {
        var byName: [String: DeviceProfile] = [:]
        for profile in profiles { byName[profile.id.rawValue] = profile }
        self.profiles = byName
    }

    package subscript(name: String) -> DeviceProfile? { profiles[name] }

    package var names: [String] { profiles.keys.sorted() }
}
