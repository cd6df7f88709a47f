/// A FHIR JSON document that does not have the shape of the resource it is read as.
package struct FHIRDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where in the resource, e.g. `Observation.component[1].code`.
    package var path: String
    package var message: String

    package init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    package var description: String { "\(path): \(message)" }
}
