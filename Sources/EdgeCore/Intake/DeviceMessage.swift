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
    public static let mllp = Transport(rawValue: "mllp")
    public static let mqtt = Transport(rawValue: "mqtt")
    public static let replay = Transport(rawValue: "replay")
}

/// One message from a device, as every source hands it to the gateway: the JSON that the
/// profile's device templates read, and where it came from. The sink stamps the receive time.
public struct DeviceMessage: Sendable, Equatable {
    public var profile: ProfileID
    public var transport: Transport
    /// Who delivered it, for the journal: `http:<client>`, `modbus:<device>`, `ble:<address>`, `mllp:<peer>`.
    public var sourceID: String
    /// The device the message is about (status, journal), when the source knows it.
    public var deviceID: String?
    /// The JSON device message, byte for byte as received or produced.
    public var payload: [UInt8]
    /// Names a redelivery of the same message (an HL7 control id, an MQTT redelivery): the
    /// store keeps one message per key, so a sender that retries after a lost acknowledgement
    /// does not create a second reading.
    public var deliveryKey: String?

    public init(
        profile: ProfileID, transport: Transport, sourceID: String, deviceID: String? = nil, payload: [UInt8],
        deliveryKey: String? = nil
    ) {
        self.profile = profile
        self.transport = transport
        self.sourceID = sourceID
        self.deviceID = deviceID
        self.payload = payload
        self.deliveryKey = deliveryKey
    }
}
