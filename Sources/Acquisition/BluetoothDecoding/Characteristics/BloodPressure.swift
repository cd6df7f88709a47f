import JSONQuery

/// Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36), Blood Pressure
/// Service 1.1: the same layout, where the cuff-pressure value uses the first SFLOAT only.
enum BloodPressure {
    static func decode(_ reader: inout ByteReader, into reading: inout ReadingBuilder, intermediate: Bool) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        let unit = flags.bit(0) ? "kPa" : "mm[Hg]"
        if intermediate {
            reading.add("cuffPressure", try reader.sfloat("Current Cuff Pressure"), unit)
            // Unused in this characteristic (normally NaN), kept for completeness.
            reading.detail("diastolicField", try reader.sfloat("Diastolic (unused)").detailValue)
            reading.detail("meanArterialPressureField", try reader.sfloat("Mean Arterial Pressure (unused)").detailValue)
        } else {
            reading.add("systolic", try reader.sfloat("Systolic"), unit)
            reading.add("diastolic", try reader.sfloat("Diastolic"), unit)
            reading.add("meanArterialPressure", try reader.sfloat("Mean Arterial Pressure"), unit)
        }
        if flags.bit(1) { reading.deviceTime = try reader.dateTime("Time Stamp") }
        if flags.bit(2) { reading.add("pulseRate", try reader.sfloat("Pulse Rate"), "/min") }
        if flags.bit(3) { reading.detail("userId", .int(Int64(try reader.uint8("User ID")))) }
        if flags.bit(4) {
            let status = UInt64(try reader.uint16("Measurement Status"))
            let range = ["withinRange", "exceedsUpperLimit", "belowLowerLimit", "reserved"][Int(status >> 3 & 0b11)]
            reading.detail(
                "measurementStatus",
                .object([
                    "bodyMovementDetected": .bool(status.bit(0)),
                    "cuffTooLoose": .bool(status.bit(1)),
                    "irregularPulseDetected": .bool(status.bit(2)),
                    "pulseRateRange": .string(range),
                    "improperMeasurementPosition": .bool(status.bit(5)),
                ]))
        }
    }
}
