import JSONQuery

/// Weight Measurement (0x2A9D, Weight Scale Service 1.0) and Body Composition Measurement
/// (0x2A9C, Body Composition Service 1.0). Fixed-point fields become exact decimals; metric
/// heights are given in cm.
enum WeightScale {
    static let unsuccessful: UInt64 = 0xFFFF

    static func decodeWeight(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        let imperial = flags.bit(0)
        reading.detail("unitSystem", .string(imperial ? "imperial" : "SI"))
        let weight = try reader.unsigned(2, "Weight")
        if weight == unsuccessful {
            reading.detail("measurementUnsuccessful", true)
        } else {
            reading.add("weight", mass(weight, imperial: imperial), imperial ? "[lb_av]" : "kg")
        }
        if flags.bit(1) { reading.deviceTime = try reader.dateTime("Time Stamp") }
        if flags.bit(2) { reading.detail("userId", .int(Int64(try reader.uint8("User ID")))) }
        if flags.bit(3) {
            reading.add("bmi", .scaled(Int64(try reader.unsigned(2, "BMI")), exponent: -1), "kg/m2")
            reading.add("height", length(try reader.unsigned(2, "Height"), imperial: imperial), imperial ? "[in_i]" : "cm")
        }
    }

    static func decodeBodyComposition(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = UInt64(try reader.uint16("Flags"))
        let imperial = flags.bit(0)
        let massUnit = imperial ? "[lb_av]" : "kg"
        reading.detail("unitSystem", .string(imperial ? "imperial" : "SI"))
        let fat = try reader.unsigned(2, "Body Fat Percentage")
        if fat == unsuccessful {
            reading.detail("measurementUnsuccessful", true)
        } else {
            reading.add("bodyFat", .scaled(Int64(fat), exponent: -1), "%")
        }
        if flags.bit(1) { reading.deviceTime = try reader.dateTime("Time Stamp") }
        if flags.bit(2) { reading.detail("userId", .int(Int64(try reader.uint8("User ID")))) }
        if flags.bit(3) { reading.add("basalMetabolism", .scaled(Int64(try reader.unsigned(2, "Basal Metabolism")), exponent: 0), "kJ") }
        if flags.bit(4) { reading.add("musclePercentage", .scaled(Int64(try reader.unsigned(2, "Muscle Percentage")), exponent: -1), "%") }
        if flags.bit(5) { reading.add("muscleMass", mass(try reader.unsigned(2, "Muscle Mass"), imperial: imperial), massUnit) }
        if flags.bit(6) { reading.add("fatFreeMass", mass(try reader.unsigned(2, "Fat Free Mass"), imperial: imperial), massUnit) }
        if flags.bit(7) { reading.add("softLeanMass", mass(try reader.unsigned(2, "Soft Lean Mass"), imperial: imperial), massUnit) }
        if flags.bit(8) { reading.add("bodyWaterMass", mass(try reader.unsigned(2, "Body Water Mass"), imperial: imperial), massUnit) }
        if flags.bit(9) { reading.add("impedance", .scaled(Int64(try reader.unsigned(2, "Impedance")), exponent: -1), "Ohm") }
        if flags.bit(10) { reading.add("weight", mass(try reader.unsigned(2, "Weight"), imperial: imperial), massUnit) }
        if flags.bit(11) {
            reading.add("height", length(try reader.unsigned(2, "Height"), imperial: imperial), imperial ? "[in_i]" : "cm")
        }
        reading.detail("multiplePacketMeasurement", .bool(flags.bit(12)))
    }

    /// 0.005 kg or 0.01 lb steps.
    static func mass(_ raw: UInt64, imperial: Bool) -> MedicalFloat {
        imperial ? .scaled(Int64(raw), exponent: -2) : .scaled(Int64(raw), step: 5, exponent: -3)
    }

    /// 0.1 in steps, or 0.001 m steps given in cm (exactly: 1750 mm is 175.0 cm), the unit the
    /// FHIR Vital Signs body height takes.
    static func length(_ raw: UInt64, imperial: Bool) -> MedicalFloat {
        .scaled(Int64(raw), exponent: -1)
    }
}
