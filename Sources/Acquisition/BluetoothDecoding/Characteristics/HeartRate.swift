import JSONQuery

/// Heart Rate Measurement (0x2A37), Heart Rate Service 1.0 §3.1.
enum HeartRate {
    static func decode(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        let rate = flags.bit(0) ? try reader.unsigned(2, "Heart Rate Measurement Value (uint16)") : try reader.unsigned(1, "Heart Rate Measurement Value (uint8)")
        reading.add("heartRate", .finite(mantissa: Int64(rate), exponent: 0), "/min")
        // Bit 1 (contact detected) means nothing unless bit 2 (contact supported) is set.
        let contact = !flags.bit(2) ? "notSupported" : flags.bit(1) ? "detected" : "notDetected"
        reading.detail("sensorContact", .string(contact))
        if flags.bit(3) {
            let energy = try reader.unsigned(2, "Energy Expended")
            reading.add("energyExpended", .finite(mantissa: Int64(energy), exponent: 0), "kJ")
        }
        if flags.bit(4) {
            var intervals: [JSONValue] = []
            while reader.remaining >= 2 {
                let raw = try reader.unsigned(2, "RR-Interval")
                intervals.append(.double(Double(raw) / 1024))
            }
            reading.detail("rrIntervals", .array(intervals))
        }
    }
}
