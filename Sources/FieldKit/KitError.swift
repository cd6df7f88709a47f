/// Why a field kit, key file or acknowledgement cannot be used: the file it is about and the
/// reason, never resource content.
public struct KitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or kit) concerned.
    public var location: String
    public var reason: String

    public init(_ location: String, _ reason: String) {
        self.location = location
        self.reason = reason
    }

    public var description: String { "\(location): \(reason)" }
}
