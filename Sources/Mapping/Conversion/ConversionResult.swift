package import FHIRModel

/// What one conversion batch produced: Observations, and the groups that could not be converted.
package struct ConversionResult: Sendable {
    package var observations: [Observation]
    package var errors: [ConversionError]

    package init(observations: [Observation] = [], errors: [ConversionError] = []) {
        self.observations = observations
        self.errors = errors
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
