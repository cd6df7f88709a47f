/// A FHIR JSON document that does not have the shape of the resource it is read as.
public struct FHIRDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where in the resource, e.g. `Observation.component[1].code`.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
