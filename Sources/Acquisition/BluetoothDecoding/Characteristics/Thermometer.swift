import JSONQuery

/// Temperature Measurement (0x2A1C) and Intermediate Temperature (0x2A1E), Health Thermometer
/// Service 1.0.
enum Thermometer {
    /// Temperature Type codes (GSS 3.216); others are reserved and reported by code only.
    static let sites = [1: "armpit", 2: "body", 3: "ear", 4: "finger", 5: "gastrointestinalTract", 6: "mouth", 7: "rectum", 8: "toe", 9: "tympanum"]

    static func decode(_ reader: inout ByteReader, into reading: inout ReadingBuilder) throws(DecodeError) {
        let flags = try reader.uint8("Flags")
        reading.add("temperature", try reader.float("Temperature Measurement Value"), flags.bit(0) ? "[degF]" : "Cel")
        if flags.bit(1) { reading.deviceTime = try reader.dateTime("Time Stamp") }
        if flags.bit(2) {
            let type = Int(try reader.uint8("Temperature Type"))
            reading.detail("temperatureType", .int(Int64(type)))
            if let site = sites[type] { reading.detail("temperatureSite", .string(site)) }
        }
    }
}
