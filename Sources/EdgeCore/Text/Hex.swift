/// Hexadecimal text of bytes, written without Foundation's per-byte formatting: keys, bonds,
/// index hashes, Lookup placeholders and log lines all use this one spelling.
package enum Hex {
    /// Two digits per byte, lowercase unless `uppercase`.
    package static func string(_ bytes: some Sequence<UInt8>, uppercase: Bool = false) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ string(UnsafeRawBufferPointer($0), uppercase: uppercase) }) {
            return text
        }
        return Array(bytes).withUnsafeBytes { string($0, uppercase: uppercase) }
    }

    /// Two digits per byte, written straight into the string's storage (ids are hashed and
    /// written for every Observation).
    package static func string(_ bytes: UnsafeRawBufferPointer, uppercase: Bool = false) -> String {
        let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            digits.withUTF8Buffer { digits in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = digits[Int(byte >> 4)]
                    out[2 * i + 1] = digits[Int(byte & 0x0F)]
                }
            }
            return bytes.count * 2
        }
    }

    /// The bytes of an even number of hex digits, or nil for anything else (signs, spaces, an odd
    /// digit). Uppercase digits are accepted unless `lowercaseOnly`.
    package static func bytes(_ text: some StringProtocol, lowercaseOnly: Bool = false) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F") where !lowercaseOnly: nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }
}
