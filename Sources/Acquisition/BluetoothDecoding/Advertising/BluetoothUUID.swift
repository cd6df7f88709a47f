/// A Bluetooth UUID, stored as 16 bytes in the usual (big-endian) order. 16- and 32-bit UUIDs are
/// shorthands for the Bluetooth base UUID `0000xxxx-0000-1000-8000-00805F9B34FB`.
package struct BluetoothUUID: Hashable, Sendable, CustomStringConvertible {
    package let bytes: [UInt8]

    static let base: [UInt8] = [0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0x80, 0x5F, 0x9B, 0x34, 0xFB]

    package init(uuid16: UInt16) { self.init(uuid32: UInt32(uuid16)) }

    package init(uuid32: UInt32) {
        var bytes = Self.base
        bytes[0] = UInt8(uuid32 >> 24)
        bytes[1] = UInt8(uuid32 >> 16 & 0xFF)
        bytes[2] = UInt8(uuid32 >> 8 & 0xFF)
        bytes[3] = UInt8(uuid32 & 0xFF)
        self.bytes = bytes
    }

    /// From the 16 bytes as they travel over the air (little-endian), or nil for another length.
    package init?(littleEndian bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes.reversed()
    }

    /// The bytes as they travel over the air (ATT, AD structures): little-endian.
    package var littleEndianBytes: [UInt8] { bytes.reversed() }

    /// The 16-bit short form, when this is a base UUID that has one.
    package var uuid16: UInt16? {
        guard bytes[0] == 0, bytes[1] == 0, Array(bytes[4...]) == Array(Self.base[4...]) else { return nil }
        return UInt16(bytes[2]) << 8 | UInt16(bytes[3])
    }

    /// `180D` for 16-bit base UUIDs, else the canonical `0000FCD2-0000-1000-8000-00805F9B34FB` form.
    package var description: String {
        if let uuid16 { return hex4(uuid16) }
        let hex = bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }
}
