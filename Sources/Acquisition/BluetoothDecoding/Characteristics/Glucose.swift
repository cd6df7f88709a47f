import JSONQuery

/// Glucose Measurement (0x2A18), Glucose Service 1.0.
///
/// The concentration arrives in kg/L or mol/L (flag bit 2); the reading gives it in the clinical
/// units mg/dL (×10^5) or mmol/L (×10^3), by moving the decimal exponent, so no rounding occurs.
enum Glucose {
    static let sampleTypes = [
        1: "capillaryWholeBlood", 2: "capillaryPlasma", 3: "venousWholeBlood", 4: "venousPlasma", 5: "arterialWholeBlood",
        6: "arterialPlasma", 7: "undeterminedWholeBlood", 8: "undeterminedPlasma", 9: "interstitialFluid", 10: "controlSolution",
    ]
    static let sampleLocations = [1: "finger", 2: "alternateSiteTest", 3: "earlobe", 4: "controlSolution", 15: "notAvailable"]

    static func decode(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        reading.detail("sequenceNumber", .int(Int64(try reader.uint16("Sequence Number"))))
        let baseTime = try reader.dateTime("Base Time")
        if let baseTime { reading.detail("baseTime", .string(baseTime.description)) }
        var offset = 0
        if flags.bit(0) {
            offset = Int(try reader.signed(2, "Time Offset"))
            reading.detail("timeOffset", .int(Int64(offset)))
        }
        reading.deviceTime = baseTime.flatMap { $0.adding(minutes: offset) }
        if flags.bit(1) {
            let concentration = try reader.sfloat("Glucose Concentration")
            if flags.bit(2) {
                reading.add("glucose", concentration.scaled(byPowerOfTen: 3), "mmol/L")
            } else {
                reading.add("glucose", concentration.scaled(byPowerOfTen: 5), "mg/dL")
            }
            let typeAndLocation = try reader.uint8("Type-Sample Location")
            let type = Int(typeAndLocation & 0x0F)
            let location = Int(typeAndLocation >> 4)
            reading.detail("sampleType", .int(Int64(type)))
            if let name = sampleTypes[type] { reading.detail("sampleTypeName", .string(name)) }
            reading.detail("sampleLocation", .int(Int64(location)))
            if let name = sampleLocations[location] { reading.detail("sampleLocationName", .string(name)) }
        }
        if flags.bit(3) {
            reading.detail("sensorStatusAnnunciation", .int(Int64(try reader.uint16("Sensor Status Annunciation"))))
        }
        reading.detail("contextInformationFollows", .bool(flags.bit(4)))
    }
}
