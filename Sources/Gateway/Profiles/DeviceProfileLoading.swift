import EdgeCore
import EdgeSystem
import EdgeCrypto
import FHIRModel
import FoundationEssentials
import Mapping
import Modbus
import YAML

extension DeviceProfile {
    /// One profile folder, compiled as the daemon compiles it; named after the folder.
    package static func load(folder: String) throws(ConfigurationError) -> DeviceProfile {
        let name = folder.split(separator: "/").last.map(String.init) ?? folder
        return try DeviceProfileCatalog.loadProfile(name: name, folder: folder).get()
    }
}

extension DeviceProfileCatalog {
    /// Compiles every profile folder under `directory` (a folder holding `devicecontent.json`;
    /// `fhirmapping.json` and an optional `profile.yaml` beside it). Throws every problem of
    /// every profile at once: template problems name the file, template index, field and column.
    package static func load(directory: String) throws(ConfigurationError) -> DeviceProfileCatalog {
        let fileManager = FileManager.default
        var problems: [ConfigurationProblem] = []
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw ConfigurationError(problems: [ConfigurationProblem(
                file: directory, keyPath: "", message: "cannot list the device profiles folder; check profiles.directory")])
        }
        var profiles: [DeviceProfile] = []
        for name in names where !name.hasPrefix(".") {
            let folder = FilePaths.join(directory, name)
            // A template file inside it makes `folder` a folder (or a link to one).
            guard fileManager.fileExists(atPath: FilePaths.join(folder, deviceTemplateFile)) else { continue }
            switch loadProfile(name: name, folder: folder) {
            case .success(let profile): profiles.append(profile)
            case .failure(let error): problems += error.problems
            }
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return DeviceProfileCatalog(profiles)
    }

    static let deviceTemplateFile = "devicecontent.json"
    static let fhirTemplateFile = "fhirmapping.json"
    static let settingsFile = "profile.yaml"

    static func loadProfile(name: String, folder: String) -> Result<DeviceProfile, ConfigurationError> {
        var problems: [ConfigurationProblem] = []
        func read(_ file: String, optional: Bool = false) -> [UInt8]? {
            let path = FilePaths.join(folder, file)
            guard let data = FileManager.default.contents(atPath: path) else {
                if !optional || FileManager.default.fileExists(atPath: path) {
                    problems.append(ConfigurationProblem(file: path, keyPath: "", message: "cannot read the file"))
                }
                return nil
            }
            return [UInt8](data)
        }
        let deviceBytes = read(deviceTemplateFile)
        let fhirBytes = read(fhirTemplateFile)
        let settingsBytes = read(settingsFile, optional: true)

        var settings = ProfileSettings()
        if let settingsBytes {
            let path = FilePaths.join(folder, settingsFile)
            switch ProfileSettings.decode(yaml: String(decoding: settingsBytes, as: UTF8.self), file: path) {
            case .success(let decoded): settings = decoded
            case .failure(let error): problems += error.problems
            }
        }

        var deviceTemplates: DeviceTemplateCollection?
        if let deviceBytes {
            let path = FilePaths.join(folder, deviceTemplateFile)
            do {
                deviceTemplates = try DeviceTemplateCollection(parsing: String(decoding: deviceBytes, as: UTF8.self), source: path)
            } catch {
                problems += error.problems.map(Self.problem(from:))
            }
        }
        var fhirTemplates: FHIRTemplateCollection?
        if let fhirBytes {
            let path = FilePaths.join(folder, fhirTemplateFile)
            do {
                fhirTemplates = try FHIRTemplateCollection(parsing: String(decoding: fhirBytes, as: UTF8.self), source: path)
            } catch {
                problems += error.problems.map(Self.problem(from:))
            }
        }
        guard problems.isEmpty, let deviceTemplates, let fhirTemplates, let deviceBytes, let fhirBytes else {
            return .failure(ConfigurationError(problems: problems))
        }
        // Length-prefixed so that moving bytes between files changes the version.
        var hasher = SHA256()
        for part in [deviceBytes, fhirBytes, settingsBytes ?? []] {
            hasher.update(String(part.count).utf8)
            hasher.update([0])
            hasher.update(part)
        }
        let version = hasher.hexDigest()
        let identity: ResourceIdentity = switch settings.identityMode {
        case .create: .create(deviceSystem: settings.deviceSystem, patientSystem: settings.patientSystem, subject: settings.subject)
        case .lookup: .lookup(deviceSystem: settings.deviceSystem, subject: settings.subject)
        }
        var converter = ObservationConverter(templates: fhirTemplates, identity: identity, idPrecision: settings.observationIdPrecision)
        converter.dataAbsentValues = settings.dataAbsentValues
        var warnings: [ConfigurationProblem] = []
        if settings.observationIdPrecision == .second {
            warnings.append(ConfigurationProblem(
                file: FilePaths.join(folder, settingsFile), keyPath: "identity.observationIdPrecision",
                message: "second-precision Observation ids (MedTech's form): readings of one device and type less than a second apart "
                    + "become one Observation and all but the last value are lost; keep it only to match ids already on the server"))
        }
        for warning in fhirTemplates.windowedSingleValueWarnings {
            warnings.append(ConfigurationProblem(file: FilePaths.join(folder, fhirTemplateFile), keyPath: "type \(warning.typeName)", message: warning.message))
        }
        var profile = DeviceProfile(
            id: ProfileID(name), deviceTemplates: deviceTemplates, converter: converter, templateVersion: version,
            deviceSystem: settings.deviceSystem, patientSystem: settings.patientSystem, identityMode: settings.identityMode,
            subject: settings.subject, warnings: warnings)
        profile.deviceTemplate = settings.device
        return .success(profile)
    }

    static func problem(from template: TemplateProblem) -> ConfigurationProblem {
        var path = ""
        if let index = template.templateIndex {
            path = "template[\(index)]"
            if let type = template.templateType { path += " (\(type))" }
        }
        if let field = template.field { path += path.isEmpty ? field : "." + field }
        var message = template.message
        if let column = template.expressionColumn { message += " (expression column \(column))" }
        return ConfigurationProblem(file: template.source, keyPath: path, line: template.line, message: message)
    }
}

/// The optional `profile.yaml` of a profile folder: identity settings for the Observations.
///
/// ```yaml
/// description: Demo vital signs monitor
/// identity:
///   mode: create                        # or lookup: the Device (and its patient) must exist upstream
///   deviceSystem: urn:example:devices   # system of the Device identifier
///   observationIdPrecision: millisecond # or second: upstream's ids, readings within a second merge
///   patientSystem: urn:example:mrn      # system of the Patient identifier (create mode)
///   subject: patient                    # or device: room/equipment readings, no Patient at all
/// observation:
///   specialValues: ieee11073            # NaN, NRes, ±INF values become dataAbsentReason (default none)
/// device:                               # what every Device this profile creates is (optional)
///   type: {system: "urn:iso:std:iso:11073:10101", code: "65573", display: MDC_MOC_VMS_MDS_SIMP}
///   identifierType: {system: "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers", code: BTMAC}
/// ```
///
/// With a `device:` section, the message's own `device` object (the Bluetooth source's Device
/// Information Service strings) is also put on the Device (`DeviceTemplate`).
struct ProfileSettings {
    var description: String?
    var deviceSystem: String?
    var patientSystem: String?
    var subject = ObservationSubject.patient
    var device: DeviceTemplate?
    /// `observation.specialValues`: quantity texts written as `dataAbsentReason`.
    var dataAbsentValues = DataAbsentValues.none
    /// The register map of a Modbus device model.
    var modbus: RegisterMap?
    var identityMode = DeviceProfile.IdentityMode.create
    var observationIdPrecision = ObservationIdPrecision.millisecond

    static func decode(yaml: String, file: String) -> Result<ProfileSettings, ConfigurationError> {
        var reader = YAMLNodeReader(file: file)
        var settings = ProfileSettings()
        let root: YAMLNode?
        do {
            root = try YAMLLoader.load(yaml)
        } catch {
            return .failure(ConfigurationError(problems: [ConfigurationProblem(file: file, yaml: error)]))
        }
        guard let root else { return .success(settings) }
        if let members = reader.mapping(root, at: "", known: ["description", "identity", "device", "observation", "modbus"]) {
            if let node = members["observation"], let observation = reader.mapping(node, at: "observation", known: ["specialValues"]),
               let node = observation["specialValues"], let choice = reader.string(node, at: "observation.specialValues") {
                switch choice {
                case "ieee11073": settings.dataAbsentValues = .ieee11073
                case "none": settings.dataAbsentValues = .none
                default: reader.problem("observation.specialValues", node, "unknown choice '\(choice)'; use ieee11073 or none")
                }
            }
            if let node = members["device"], let device = reader.mapping(node, at: "device", known: ["type", "identifierType"]) {
                var template = DeviceTemplate()
                if let node = device["type"] { template.type = Self.concept(node, at: "device.type", reader: &reader) }
                if let node = device["identifierType"] { template.identifierType = Self.concept(node, at: "device.identifierType", reader: &reader) }
                settings.device = template
            }
            if let node = members["description"] { settings.description = reader.string(node, at: "description") }
            if let node = members["modbus"] { settings.modbus = ModbusProfileSection.decode(node, at: "modbus", reader: &reader) }
            if let node = members["identity"],
               let identity = reader.mapping(
                   node, at: "identity", known: ["mode", "deviceSystem", "patientSystem", "subject", "observationIdPrecision"]) {
                if let node = identity["mode"], let mode = reader.string(node, at: "identity.mode") {
                    if let known = DeviceProfile.IdentityMode(rawValue: mode.lowercased()) {
                        settings.identityMode = known
                    } else {
                        reader.problem("identity.mode", node, "unknown identity mode '\(mode)'; use create or lookup")
                    }
                }
                if let node = identity["deviceSystem"] { settings.deviceSystem = reader.system(node, at: "identity.deviceSystem") }
                if let node = identity["patientSystem"] { settings.patientSystem = reader.system(node, at: "identity.patientSystem") }
                if let node = identity["subject"], let subject = reader.string(node, at: "identity.subject") {
                    if let known = ObservationSubject(rawValue: subject.lowercased()) {
                        settings.subject = known
                    } else {
                        reader.problem("identity.subject", node, "unknown subject '\(subject)'; use patient (readings about a patient) or device (readings of a room or equipment)")
                    }
                }
                if let node = identity["observationIdPrecision"], let text = reader.string(node, at: "identity.observationIdPrecision") {
                    if let precision = ObservationIdPrecision(rawValue: text.lowercased()) {
                        settings.observationIdPrecision = precision
                    } else {
                        reader.problem("identity.observationIdPrecision", node, "unknown precision '\(text)'; use millisecond or second")
                    }
                }
            }
        }
        return reader.problems.isEmpty ? .success(settings) : .failure(ConfigurationError(problems: reader.problems))
    }

    /// `{system: ..., code: ..., display: ...}`: one coding, its display also the concept's text.
    /// System and code are required: a concept without them codes nothing.
    static func concept(_ node: YAMLNode, at path: String, reader: inout YAMLNodeReader) -> CodeableConcept? {
        guard let members = reader.mapping(node, at: path, known: ["system", "code", "display"]) else { return nil }
        let system = members["system"].flatMap { reader.string($0, at: path + ".system") }
        let code = members["code"].flatMap { reader.string($0, at: path + ".code") }
        let display = members["display"].flatMap { reader.string($0, at: path + ".display") }
        guard let system, let code else {
            reader.problem(path, node, "a coding needs both system and code")
            return nil
        }
        return CodeableConcept(coding: [Coding(system: system, code: code, display: display)], text: display)
    }
}

extension YAMLNodeReader {
    /// An identifier system: a non-empty URI without spaces or `|` (which would split a
    /// `system|value` search). Its text is kept exactly as written.
    mutating func system(_ node: YAMLNode, at keyPath: String) -> String? {
        guard let text = string(node, at: keyPath) else { return nil }
        guard !text.isEmpty, !text.contains(where: { $0 == "|" || $0.isWhitespace }) else {
            problem(keyPath, node, "expected an identifier system URI (e.g. urn:example:devices) without spaces or '|'")
            return nil
        }
        return text
    }
}
