import EdgeSystem
import Mapping
import Upstream

/// What the upload scheme asks of the profiles' identity settings, checked by `config check` and
/// at daemon start so that a gateway never starts uploading with identities a server could match
/// to the wrong patient or device.
enum IdentityRequirements {
    /// Under `idempotency: conditional-create` the server finds an existing Patient or Device by
    /// `identifier=system|value`. Without a system that search matches any identifier with the
    /// same value, perhaps another patient's record from another system, so every profile that
    /// creates Patients or Devices must name the systems of their identifiers.
    ///
    /// A profile whose readings are filed under a Device (`identity.subject: device`) also must
    /// not be fed a `patientId`: the patient would be silently ignored.
    static func problems(_ configuration: GatewayConfiguration, catalog: DeviceProfileCatalog) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        if configuration.upstream?.upload.idempotency == .conditionalCreate {
            for name in catalog.names {
                guard let profile = catalog[name], profile.identityMode == .create else { continue }
                let file = FilePaths.join(FilePaths.join(configuration.profiles.directory, name), DeviceProfileCatalog.settingsFile)
                if profile.subject == .patient, profile.patientSystem == nil {
                    problems.append(ConfigurationProblem(file: file, keyPath: "identity.patientSystem", message: """
                        missing; upstream.idempotency conditional-create in \(configuration.file) creates Patients by \
                        identifier=system|value, and without a system it could match another patient's identifier on \
                        the server: set the system of the patient ids this profile's messages carry (e.g. your MRN system URI)
                        """))
                }
                if profile.deviceSystem == nil {
                    problems.append(ConfigurationProblem(file: file, keyPath: "identity.deviceSystem", message: """
                        missing; upstream.idempotency conditional-create in \(configuration.file) creates Devices by \
                        identifier=system|value, and without a system it could match another device's identifier on \
                        the server: set the system of the device ids this profile's messages carry
                        """))
                }
            }
        }
        var assigned: [(keyPath: String, profile: String)] = configuration.modbus.devices.compactMap {
            $0.patientID == nil ? nil : ("modbus.devices.\($0.name).patientId", $0.profile)
        }
        assigned += (configuration.bluetooth?.devices ?? []).compactMap {
            $0.patientID == nil ? nil : ("bluetooth.devices.\($0.address).patientId", $0.profile)
        }
        assigned += (configuration.bluetooth?.bthome ?? []).compactMap {
            $0.patientID == nil ? nil : ("bluetooth.bthome.\($0.address).patientId", $0.profile)
        }
        for (keyPath, profile) in assigned where catalog[profile]?.subject == .device {
            problems.append(ConfigurationProblem(file: configuration.file, keyPath: keyPath, message: """
                profile \(profile) files its readings under the Device (identity.subject: device), so this patient \
                would be ignored; remove patientId, or use a profile whose readings are about a patient
                """))
        }
        return problems
    }
}
