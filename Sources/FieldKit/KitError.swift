/// Why a field kit, key file or acknowledgement cannot be used: the file it is about and the
/// reason, never resource content.
package struct KitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or kit) concerned.
    package var location: String
    package var reason: String

    package init(_ location: String, _ reason: String) {
        self.location = location
        self.reason = reason
    }

    package var description: String { "\(location): \(reason)" }
}
