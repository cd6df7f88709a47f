package import BluetoothDecoding

/// Characteristic properties (Core Vol 3 Part G 3.3.1.1).
package struct CharacteristicProperties: OptionSet, Sendable, Hashable, CustomStringConvertible {
    package var rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let broadcast = CharacteristicProperties(rawValue: 0x01)
    package static let read = CharacteristicProperties(rawValue: 0x02)
    package static let writeWithoutResponse = CharacteristicProperties(rawValue: 0x04)
    package static let write = CharacteristicProperties(rawValue: 0x08)
    package static let notify = CharacteristicProperties(rawValue: 0x10)
    package static let indicate = CharacteristicProperties(rawValue: 0x20)
    package static let authenticatedSignedWrites = CharacteristicProperties(rawValue: 0x40)
    package static let extendedProperties = CharacteristicProperties(rawValue: 0x80)

    /// `read`, `notify`... in bit order.
    package var names: [String] {
        let all: [(CharacteristicProperties, String)] = [
            (.broadcast, "broadcast"), (.read, "read"), (.writeWithoutResponse, "writeWithoutResponse"), (.write, "write"),
            (.notify, "notify"), (.indicate, "indicate"), (.authenticatedSignedWrites, "authenticatedSignedWrites"),
            (.extendedProperties, "extendedProperties"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }

    package var description: String { names.joined(separator: ",") }
}

package struct GATTDescriptor: Sendable, Hashable {
    package var uuid: BluetoothUUID
    package var handle: UInt16

    /// Client Characteristic Configuration.
    package static let clientConfiguration = BluetoothUUID(uuid16: 0x2902)
}

package struct GATTCharacteristic: Sendable, Hashable {
    package var uuid: BluetoothUUID
    package var declarationHandle: UInt16
    package var valueHandle: UInt16
    package var properties: CharacteristicProperties
    package var descriptors: [GATTDescriptor] = []

    /// The Client Characteristic Configuration descriptor's handle, when discovered.
    package var configurationHandle: UInt16? {
        descriptors.first { $0.uuid == GATTDescriptor.clientConfiguration }?.handle
    }
}

package struct GATTService: Sendable, Hashable {
    package var uuid: BluetoothUUID
    package var startHandle: UInt16
    package var endHandle: UInt16
    package var characteristics: [GATTCharacteristic] = []

    package func characteristic(_ uuid: BluetoothUUID) -> GATTCharacteristic? {
        characteristics.first { $0.uuid == uuid }
    }
}

extension [GATTService] {
    /// The first characteristic with that UUID in any service (services in handle order).
    package func characteristic(_ uuid: BluetoothUUID) -> GATTCharacteristic? {
        lazy.compactMap { $0.characteristic(uuid) }.first
    }
}

/// Decoding of discovery responses; a malformed one is a protocol violation naming the request.
enum GATTDiscoveryParsing {
    static func uuid(_ bytes: ArraySlice<UInt8>) -> BluetoothUUID? {
        switch bytes.count {
        case 2: BluetoothUUID(uuid16: UInt16(bytes[bytes.startIndex]) | UInt16(bytes[bytes.startIndex + 1]) << 8)
        case 16: BluetoothUUID(littleEndian: bytes)
        default: nil
        }
    }

    /// Read By Group Type Response → services.
    static func services(_ pdu: [UInt8]) throws -> [GATTService] {
        guard pdu.count >= 2, pdu[1] == 6 || pdu[1] == 20, (pdu.count - 2) % Int(pdu[1]) == 0 else { throw malformed("Read By Group Type") }
        let size = Int(pdu[1])
        return try stride(from: 2, to: pdu.count, by: size).map { offset in
            guard let start = pdu.u16(at: offset), let end = pdu.u16(at: offset + 2), let uuid = uuid(pdu[(offset + 4)..<(offset + size)]),
                  start <= end else { throw malformed("Read By Group Type") }
            return GATTService(uuid: uuid, startHandle: start, endHandle: end)
        }
    }

    /// Read By Type Response for 0x2803 → characteristic declarations.
    static func characteristics(_ pdu: [UInt8]) throws -> [GATTCharacteristic] {
        guard pdu.count >= 2, pdu[1] == 7 || pdu[1] == 21, (pdu.count - 2) % Int(pdu[1]) == 0 else { throw malformed("Read By Type (characteristics)") }
        let size = Int(pdu[1])
        return try stride(from: 2, to: pdu.count, by: size).map { offset in
            guard let declaration = pdu.u16(at: offset), let properties = pdu.u8(at: offset + 2), let value = pdu.u16(at: offset + 3),
                  let uuid = uuid(pdu[(offset + 5)..<(offset + size)]) else { throw malformed("Read By Type (characteristics)") }
            return GATTCharacteristic(uuid: uuid, declarationHandle: declaration, valueHandle: value,
                                      properties: CharacteristicProperties(rawValue: properties))
        }
    }

    /// Find Information Response → descriptors (handle, type).
    static func descriptors(_ pdu: [UInt8]) throws -> [GATTDescriptor] {
        guard pdu.count >= 2, pdu[1] == 1 || pdu[1] == 2 else { throw malformed("Find Information") }
        let size = pdu[1] == 1 ? 4 : 18
        guard (pdu.count - 2) % size == 0 else { throw malformed("Find Information") }
        return try stride(from: 2, to: pdu.count, by: size).map { offset in
            guard let handle = pdu.u16(at: offset), let uuid = uuid(pdu[(offset + 2)..<(offset + size)]) else { throw malformed("Find Information") }
            return GATTDescriptor(uuid: uuid, handle: handle)
        }
    }

    static func malformed(_ what: String) -> BluetoothError {
        BluetoothError(.protocolViolation, "ATT \(what) response is malformed")
    }
}
