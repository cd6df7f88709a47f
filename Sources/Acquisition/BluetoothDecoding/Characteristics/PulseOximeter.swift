import JSONQuery

/// PLX Spot-check Measurement (0x2A5E) and PLX Continuous Measurement (0x2A5F), Pulse Oximeter
/// Service 1.0. Status fields are kept as their raw bit fields.
enum PulseOximeter {
    static func decodeSpotCheck(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        reading.add("spo2", try reader.sfloat("SpO2PR-Spot-Check SpO2"), "%")
        reading.add("pulseRate", try reader.sfloat("SpO2PR-Spot-Check PR"), "/min")
        if flags.bit(0) {
            let time = try reader.dateTime("Timestamp")
            // A clock the device says is not set names no real time: the receive time is better.
            reading.deviceTime = flags.bit(4) ? nil : time
        }
        try status(&reader, into: &reading, measurement: flags.bit(1), device: flags.bit(2), pai: flags.bit(3))
        reading.detail("deviceClockNotSet", .bool(flags.bit(4)))
    }

    static func decodeContinuous(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        reading.add("spo2", try reader.sfloat("SpO2PR-Normal SpO2"), "%")
        reading.add("pulseRate", try reader.sfloat("SpO2PR-Normal PR"), "/min")
        if flags.bit(0) {
            reading.add("spo2Fast", try reader.sfloat("SpO2PR-Fast SpO2"), "%")
            reading.add("pulseRateFast", try reader.sfloat("SpO2PR-Fast PR"), "/min")
        }
        if flags.bit(1) {
            reading.add("spo2Slow", try reader.sfloat("SpO2PR-Slow SpO2"), "%")
            reading.add("pulseRateSlow", try reader.sfloat("SpO2PR-Slow PR"), "/min")
        }
        try status(&reader, into: &reading, measurement: flags.bit(2), device: flags.bit(3), pai: flags.bit(4))
    }

    private static func status(
        _ reader: inout ByteReader, into reading: inout ReadingBuilder, measurement: Bool, device: Bool, pai: Bool
    ) throws(DecodeError) {
        if measurement { reading.detail("measurementStatus", .int(Int64(try reader.unsigned(2, "Measurement Status")))) }
        if device { reading.detail("deviceAndSensorStatus", .int(Int64(try reader.unsigned(3, "Device and Sensor Status")))) }
        if pai { reading.add("pulseAmplitudeIndex", try reader.sfloat("Pulse Amplitude Index"), "%") }
    }
}
