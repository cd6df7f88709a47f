package import EdgeCore
import FHIRConventions
package import FHIRModel

/// What one conversion batch produced: Observations, and the groups that could not be converted.
package struct ConversionResult: Sendable {
    /// The Observations in the form they were converted to: most straight from a compiled plan.
    package var converted: [ConvertedObservation] = []
    package var errors: [ConversionError] = []

    package init() {}

    /// The Observations as model values.
    package var observations: [Observation] { converted.map(\.observation) }
}

/// One converted Observation: built as a model value, or planned (`ObservationPlan`) and
/// written straight to bytes. Both forms give the same bytes and the same model value.
package struct ConvertedObservation: Sendable {
    enum Form: Sendable {
        case built(Observation)
        case planned(PlannedObservation)
    }

    var form: Form

    init(_ observation: Observation) { form = .built(observation) }
    init(_ planned: PlannedObservation) { form = .planned(planned) }

    package var observation: Observation {
        switch form {
        case .built(let observation): observation
        case .planned(let planned): planned.observation
        }
    }

    package var id: String? {
        switch form {
        case .built(let observation): observation.id
        case .planned(let planned): planned.id
        }
    }

    /// `system|value` of the first identifier, as the upstream recognises the Observation.
    package var identityKey: String? {
        switch form {
        case .built(let observation): observation.identifier.first.map { ($0.system ?? "") + "|" + ($0.value ?? "") }
        case .planned(let planned): ResourceIds.connectorSystem + "|" + planned.identifierValue
        }
    }

    package var subjectReference: String? {
        switch form {
        case .built(let observation): return observation.subject?.reference
        case .planned(let planned):
            let resources = planned.resources
            return (resources.subject == .device ? "Device/" : "Patient/") + resources.subjectResourceId
        }
    }

    package var deviceReference: String? {
        switch form {
        case .built(let observation): observation.device?.reference
        case .planned(let planned): "Device/" + planned.resources.deviceResourceId
        }
    }

    /// `effectivePeriod` as instants; nil when it is missing or not an instant.
    package var period: (start: Timestamp, end: Timestamp)? {
        switch form {
        case .built(let observation):
            guard let startText = observation.effectivePeriod?.start, let start = Timestamp(parsingISO8601Lenient: startText) else { return nil }
            return (start, observation.effectivePeriod?.end.flatMap { Timestamp(parsingISO8601Lenient: $0) } ?? start)
        case .planned(let planned): return (planned.group.start, planned.group.end)
        }
    }

    /// Appends the Observation's compact JSON (`Observation.writeJSON`), with `issued` in place
    /// of the converter's issue time when given.
    package func writeJSON(into out: inout [UInt8], issued: String? = nil) {
        switch form {
        case .planned(let planned) where issued.map({ !$0.isEmpty }) ?? true:
            planned.plan.write(planned, issued: issued ?? planned.issued, into: &out)
        default:
            var observation = observation
            if let issued { observation.issued = issued }
            observation.writeJSON(into: &out)
        }
    }
}

/// A measurement group or observation group that could not become an Observation. The other
/// groups of the batch are unaffected. The message names no payload values, so it may be logged;
/// `measurements` are the readings concerned, for the dead-letter table.
package struct ConversionError: Error, Sendable, CustomStringConvertible {
    /// The upstream exception name (`TemplateNotFoundException`, `InvalidQuantityFhirValueException`, ...).
    package var type: String
    package var message: String
    package var measurementType: String
    package var groupKey: MeasurementGroupKey
    /// The observation group's identifier segment, when the failure concerns one observation group.
    package var segment: String?
    package var measurements: [Measurement]

    package init(type: String, message: String, groupKey: MeasurementGroupKey, segment: String? = nil, measurements: [Measurement] = []) {
        self.type = type
        self.message = message
        self.measurementType = groupKey.type
        self.groupKey = groupKey
        self.segment = segment
        self.measurements = measurements
    }

    package var description: String {
        var text = "\(type): \(message) [\(groupKey)"
        if let segment { text += " segment=\(segment)" }
        return text + "]"
    }
}
