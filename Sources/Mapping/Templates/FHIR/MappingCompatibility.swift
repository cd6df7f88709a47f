/// A device mapping output that the FHIR mapping will not use (upstream's mapping validator
/// warnings). Not an error: the data is simply not written, which is usually a typo.
package struct MappingCompatibilityWarning: Hashable, Sendable, CustomStringConvertible {
    /// The measurement type (device template `typeName`).
    package var typeName: String
    /// The value name, when the warning is about one value.
    package var valueName: String?
    package var message: String

    package var description: String { message }
}

extension FHIRTemplateCollection {
    /// Types the device mapping produces without a FHIR template, and values no FHIR template
    /// value or component takes, so `config check` / `map` can point at them before data is lost.
    package func compatibilityWarnings(with device: DeviceTemplateCollection) -> [MappingCompatibilityWarning] {
        var warnings: [MappingCompatibilityWarning] = []
        var seen = Set<MappingCompatibilityWarning>()
        func add(_ warning: MappingCompatibilityWarning) {
            if seen.insert(warning).inserted { warnings.append(warning) }
        }
        for deviceTemplate in device.templates {
            let type = deviceTemplate.typeName
            guard let fhir = template(forType: type) else {
                add(MappingCompatibilityWarning(
                    typeName: type, valueName: nil,
                    message: "No matching Fhir Template exists for Device Mapping [\(type)]; its measurements cannot be converted."))
                continue
            }
            var used = Set(fhir.components.map(\.value.valueName))
            if let value = fhir.value { used.insert(value.valueName) }
            for value in deviceTemplate.values where !used.contains(value.name) {
                add(MappingCompatibilityWarning(
                    typeName: type, valueName: value.name,
                    message: "The value [\(value.name)] in Device Mapping [\(type)] is not represented within the Fhir Template [\(fhir.typeName)]; it will not appear in the Observation."))
            }
        }
        return warnings
    }
}

extension FHIRTemplateCollection {
    /// Templates whose window (hourly, daily) spans many readings but whose value or a component
    /// takes one reading only (Quantity, String, CodeableConcept): each window is one
    /// Observation, so a later reading in the window replaces the earlier one upstream, as
    /// MedTech does. Worth a warning: the template, not the gateway, collapses the readings.
    package var windowedSingleValueWarnings: [MappingCompatibilityWarning] {
        templates.compactMap { template in
            let window: String
            switch template.periodInterval {
            case .hourly: window = "hour"
            case .daily: window = "day"
            default: return nil
            }
            let values = ([template.value].compactMap { $0 } + template.components.map(\.value)).filter {
                if case .sampledData = $0.kind { return false }
                return true
            }
            guard let first = values.first else { return nil }
            return MappingCompatibilityWarning(
                typeName: template.typeName, valueName: first.valueName,
                message: "The Fhir Template [\(template.typeName)] makes one Observation per \(window), and its value [\(first.valueName)] holds one reading: "
                    + "a later reading in the same \(window) replaces the earlier one. Use periodInterval 0 for one Observation per reading, or SampledData for a series.")
        }
    }
}
