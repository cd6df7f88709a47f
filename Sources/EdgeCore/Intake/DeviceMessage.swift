/// Identifies a device profile: a folder under `device-profiles/` holding one device model's templates.
package struct ProfileID: Hashable, Sendable, CustomStringConvertible {
    package let rawValue: String
    package init(_ rawValue: String) { self.rawValue = rawValue }
    package var description: String { rawValue }
}

/// How a message reached the gateway.
package struct Transport: RawRepresentable, Hashable, Sendable {
    package let rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }

    package static let http = Transport(rawValue: "http")
    package static let ble = Transport(rawValue: "ble")
    package static let modbus = Transport(rawValue: "modbus")
    package static let mllp = Transport(rawValue: "mllp")
    package static let mqtt = Transport(rawValue: "mqtt")
    package static let replay = Transport(rawValue: "replay")
}

/// One message from a device, as every source hands it to the gateway: the JSON that the
/// profile's device templates read, and where it came from. The sink stamps the receive time.
package struct DeviceMessage: Sendable, Equatable {
    package var profile: ProfileID
    package var transport: Transport
    /// Who delivered it, for the journal: `http:<client>`, `modbus:<device>`, `ble:<address>`, `mllp:<peer>`.
    package var sourceID: String
    /// The device the message is about (status, journal), when the source knows it.
    package var deviceID: String?
    /// The JSON device message, byte for byte as received or produced.
    package var payload: [UInt8]
    /// Names a redelivery of the same message (an HL7 control id, an MQTT redelivery): the
    /// store keeps one message per key, so a sender that retries after a lost acknowledgement
    /// does not create a second reading.
    package var deliveryKey: String?

    package init(
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
