import EdgeCore
/// How a device address is to be read: public (IEEE-assigned) or random (static, resolvable or
/// not). A wire enum that may grow (identity-address types in enhanced events), so unknown values
/// round-trip.
package struct AddressType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    package var rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let `public` = AddressType(rawValue: 0x00)
    package static let random = AddressType(rawValue: 0x01)
    /// Enhanced Connection Complete: a public identity address resolved by the controller.
    package static let publicIdentity = AddressType(rawValue: 0x02)
    /// Enhanced Connection Complete: a random (static) identity address resolved by the controller.
    package static let randomIdentity = AddressType(rawValue: 0x03)

    /// The two types a host may put in a command (identity types fold onto their base type).
    package var commandValue: AddressType { AddressType(rawValue: rawValue & 0x01) }

    package var description: String {
        switch rawValue {
        case 0x00: "public"
        case 0x01: "random"
        case 0x02: "public-identity"
        case 0x03: "random-identity"
        default: "type-\(rawValue)"
        }
    }
}

/// A 48-bit device address, written most significant byte first (`F0:00:00:00:18:0D`) as people
/// read it; HCI carries it least significant byte first.
package struct BluetoothAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 48 address bits.
    package var value: UInt64
    package var type: AddressType

    package init(value: UInt64, type: AddressType) {
        self.value = value & 0xFFFF_FFFF_FFFF
        self.type = type
    }

    /// Parses `AA:BB:CC:DD:EE:FF` (or with `-`); nil when it is not six hex octets.
    package init?(_ text: some StringProtocol, type: AddressType = .random) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard part.count == 2, let octet = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(octet)
        }
        self.init(value: value, type: type)
    }

    /// From the six little-endian octets HCI carries.
    package init(littleEndian octets: some Collection<UInt8>, type: AddressType) {
        var value: UInt64 = 0
        for (index, octet) in octets.prefix(6).enumerated() { value |= UInt64(octet) << (8 * UInt64(index)) }
        self.init(value: value, type: type)
    }

    /// The six octets in HCI order (least significant first).
    package var littleEndianBytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

    /// `F0:00:00:00:18:0D`.
    package var description: String {
        littleEndianBytes.reversed().map { hex2($0) }.joined(separator: ":")
    }

    /// `F0-00-00-00-18-0D`: the address as an EUI-48 in IEEE's notation, upper-case hex octets
    /// joined by `-`, which is how the PHD IG writes a Bluetooth address identifier
    /// (system `http://hl7.org/fhir/sid/eui-48/bluetooth`) and so the device id in messages.
    package var eui48: String {
        littleEndianBytes.reversed().map { hex2($0) }.joined(separator: "-")
    }

    /// A random static address has its two most significant bits set.
    package var isRandomStatic: Bool { type.commandValue == .random && value >> 46 == 0b11 }

    /// Two addresses name the same device when the bits match and both are public or both random.
    package func sameDevice(as other: BluetoothAddress) -> Bool {
        value == other.value && type.commandValue == other.type.commandValue
    }

    package static func < (lhs: BluetoothAddress, rhs: BluetoothAddress) -> Bool {
        (lhs.value, lhs.type.rawValue) < (rhs.value, rhs.type.rawValue)
    }
}

func hex2(_ octet: UInt8) -> String {
    Hex.string([octet], uppercase: true)
}
