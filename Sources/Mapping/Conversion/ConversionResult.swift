public import FHIRModel

/// What one conversion batch produced: Observations, and the groups that could not be converted.
public struct ConversionResult: Sendable {
    public var observations: [Observation]
    public var errors: [ConversionError]

    public init(observations: [Observation] = [], errors: [ConversionError] = []) {
        self.observations = observations
        self.errors = errors
    }
}

/// A measurement group or observation group that could not become an Observation. The other
/// groups of the batch are unaffected. The message names no payload values, so it may be logged;
/// `measurements` are the readings concerned, for the dead-letter table.
public struct ConversionError: Error, Sendable, CustomStringConvertible {
    /// The upstream exception name (`TemplateNotFoundException`, `InvalidQuantityFhirValueException`, ...).
    public var type: String
    public var message: String
    public var measurementType: String
    public var groupKey: MeasurementGroupKey
    /// The observation group's identifier segment, when the failure concerns one observation group.
    public var segment: String?
    public var measurements: [Measurement]

    public init(type: String, message: String, groupKey: MeasurementGroupKey, segment: String? = nil, measurements: [Measurement] = []) {
        self.type = type
        self.message = message
        self.measurementType = groupKey.type
        self.groupKey = groupKey
        self.segment = segment
        self.measurements = measurements
    }

    public var description: String {
        var text = "\(type): \(message) [\(groupKey)"
        if let segment { text += " segment=\(segment)" }
        return text + "]"
    }
}
