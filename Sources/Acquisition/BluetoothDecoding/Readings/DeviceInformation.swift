package import JSONQuery

/// What a device says about itself in the Device Information Service (0x180A): the strings a FHIR
/// Device carries (manufacturer, model, serial number, revisions). Each is nil when the device
/// does not serve that characteristic.
package struct DeviceInformation: Hashable, Sendable {
    /// The Device Information Service.
    package static let serviceUUID: UInt16 = 0x180A

    /// One DIS string characteristic: its UUID and the member name device messages use.
    package struct Field: Hashable, Sendable {
        package let uuid16: UInt16
        package let key: String
    }

    package static let manufacturerName = Field(uuid16: 0x2A29, key: "manufacturerName")
    package static let modelNumber = Field(uuid16: 0x2A24, key: "modelNumber")
    package static let serialNumber = Field(uuid16: 0x2A25, key: "serialNumber")
    package static let hardwareRevision = Field(uuid16: 0x2A27, key: "hardwareRevision")
    package static let firmwareRevision = Field(uuid16: 0x2A26, key: "firmwareRevision")
    package static let softwareRevision = Field(uuid16: 0x2A28, key: "softwareRevision")

    /// The fields read, in the order messages list them.
    package static let fields: [Field] = [manufacturerName, modelNumber, serialNumber, hardwareRevision, firmwareRevision, softwareRevision]

    /// Values by field key; only fields the device served with a non-empty value.
    package private(set) var values: [String: String] = [:]

    package init() {}

    package var isEmpty: Bool { values.isEmpty }

    package subscript(field: Field) -> String? { values[field.key] }

    /// Keeps the value of a DIS characteristic read from the device. The SIG defines these as
    /// UTF-8 strings; a trailing NUL padding (some devices send fixed-size buffers) is not part
    /// of the text, and a value that is not UTF-8 or is empty is left out rather than guessed at.
    /// Returns false when `uuid16` is not one of the fields.
    @discardableResult
    package mutating func record(uuid16: UInt16, value bytes: [UInt8]) -> Bool {
        guard let field = Self.fields.first(where: { $0.uuid16 == uuid16 }) else { return false }
        var end = bytes.endIndex
        while end > bytes.startIndex, bytes[end - 1] == 0 { end -= 1 }
        guard let text = String(validating: bytes[..<end], as: UTF8.self), !text.isEmpty else { return true }
        values[field.key] = text
        return true
    }

    /// The message's `device` object: `{"manufacturerName": "BLE Rig", "modelNumber": "RIG-BP", ...}`.
    package var json: JSONValue {
        var object = JSONObject()
        for field in Self.fields {
            if let value = values[field.key] { object[field.key] = .string(value) }
        }
        return .object(object)
    }
}
