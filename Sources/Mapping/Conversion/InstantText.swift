import EdgeCore

extension Timestamp {
    /// `yyyy-MM-ddTHH:mm:ss.SSSZ`, the same text as `iso8601`, written into a fixed buffer
    /// because every Observation needs two or three of them.
    var instantText: String {
        let c = components
        guard c.year >= 0, c.year <= 9999 else { return iso8601 }
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
            }
            put(c.year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(c.month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(c.day, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(c.hour, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(c.minute, 2, at: 14)
            buffer[16] = UInt8(ascii: ":")
            put(c.second, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(c.millisecond, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}
