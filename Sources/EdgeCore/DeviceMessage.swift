/// Identifies a device profile: a folder under `device-profiles/` holding one device model's templates.
public struct ProfileID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// How a message reached the gateway.
public struct Transport: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let http = Transport(rawValue: "http")
    public static let ble = Transport(rawValue: "ble")
    public static let modbus = Transport(rawValue: "modbus")
    public static let replay = Transport(rawValue: "replay")
}
