/// A little-endian cursor over a value that reports every short read as a `DecodeError` naming the
/// field and its offset.
struct ByteReader {
    let bytes: [UInt8]
    let subject: String
    private(set) var offset: Int = 0

    init(_ bytes: [UInt8], subject: String) {
        self.bytes = bytes
        self.subject = subject
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset >= bytes.count }

    func error(_ field: String?, _ reason: DecodeError.Reason, _ detail: String, at offset: Int? = nil) -> DecodeError {
        DecodeError(subject: subject, field: field, offset: offset ?? self.offset, reason: reason, detail: detail)
    }

    /// Takes `count` bytes, or fails naming the field when fewer are left.
    mutating func take(_ count: Int, _ field: String) throws(DecodeError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else {
            throw error(field, .truncated, "needs \(count) byte\(count == 1 ? "" : "s"), \(max(remaining, 0)) left")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// An unsigned little-endian integer of 1 to 8 bytes.
    mutating func unsigned(_ size: Int, _ field: String) throws(DecodeError) -> UInt64 {
        let slice = try take(size, field)
        var value: UInt64 = 0
        for (shift, byte) in slice.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    /// A two's-complement little-endian integer of 1 to 8 bytes.
    mutating func signed(_ size: Int, _ field: String) throws(DecodeError) -> Int64 {
        let raw = try unsigned(size, field)
        let bits = UInt64(size * 8)
        guard bits < 64 else { return Int64(bitPattern: raw) }
        let sign: UInt64 = 1 << (bits - 1)
        return raw & sign == 0 ? Int64(raw) : Int64(raw) - Int64(1 << bits)
    }

    mutating func uint8(_ field: String) throws(DecodeError) -> UInt8 { UInt8(try unsigned(1, field)) }
    mutating func uint16(_ field: String) throws(DecodeError) -> UInt16 { UInt16(try unsigned(2, field)) }

    mutating func sfloat(_ field: String) throws(DecodeError) -> MedicalFloat {
        IEEE11073.sfloat(UInt16(try unsigned(2, field)))
    }

    mutating func float(_ field: String) throws(DecodeError) -> MedicalFloat {
        IEEE11073.float(UInt32(try unsigned(4, field)))
    }

    /// The 7-byte Date Time characteristic layout; nil when the device says "not known".
    mutating func dateTime(_ field: String) throws(DecodeError) -> DeviceDateTime? {
        let b = Array(try take(7, field))
        let year = Int(b[0]) | Int(b[1]) << 8
        return DeviceDateTime(year: year, month: Int(b[2]), day: Int(b[3]), hour: Int(b[4]), minute: Int(b[5]), second: Int(b[6]))
    }
}
