import JSONQuery

/// Decodes the value of a standard health measurement characteristic (as received in a
/// notification, indication or read response) into a `HealthReading`.
///
/// Strict about length: a field that the flags announce but the bytes do not hold is an error
/// naming the field and its offset. Lenient where devices vary harmlessly: reserved flag bits,
/// bytes after the last announced field, and an odd byte after the RR intervals are ignored.
package enum HealthDecoder {
    package static func decode(_ characteristic: HealthCharacteristic, _ bytes: [UInt8]) throws(DecodeError) -> HealthReading {
        var reader = ByteReader(bytes, subject: characteristic.description)
        var reading = ReadingBuilder(characteristic)
        switch characteristic.uuid16 {
        case 0x2A37: try HeartRate.decode(&reader, into: &reading)
        case 0x2A35: try BloodPressure.decode(&reader, into: &reading, intermediate: false)
        case 0x2A36: try BloodPressure.decode(&reader, into: &reading, intermediate: true)
        case 0x2A1C, 0x2A1E: try Thermometer.decode(&reader, into: &reading)
        case 0x2A9D: try WeightScale.decodeWeight(&reader, into: &reading)
        case 0x2A9C: try WeightScale.decodeBodyComposition(&reader, into: &reading)
        case 0x2A5E: try PulseOximeter.decodeSpotCheck(&reader, into: &reading)
        case 0x2A5F: try PulseOximeter.decodeContinuous(&reader, into: &reading)
        case 0x2A18: try Glucose.decode(&reader, into: &reading)
        default:
            throw reader.error(nil, .reservedValue, "no decoder for this characteristic")
        }
        return reading.build()
    }
}

/// Collects a reading's parts while a decoder walks the fields.
struct ReadingBuilder {
    let characteristic: HealthCharacteristic
    var values: [MeasuredValue] = []
    var details = JSONObject()
    var deviceTime: DeviceDateTime?

    init(_ characteristic: HealthCharacteristic) { self.characteristic = characteristic }

    mutating func add(_ name: String, _ value: MedicalFloat, _ unit: String) {
        values.append(MeasuredValue(name: name, value: value, unit: unit))
    }

    mutating func detail(_ name: String, _ value: JSONValue) { details[name] = value }

    func build() -> HealthReading {
        HealthReading(characteristic: characteristic, values: values, details: details, deviceTime: deviceTime)
    }
}

extension UInt64 {
    func bit(_ n: Int) -> Bool { self & (1 << UInt64(n)) != 0 }
}

extension UInt8 {
    func bit(_ n: Int) -> Bool { self & (1 << UInt8(n)) != 0 }
}

extension MedicalFloat {
    /// A detail member: the number, or the special value's name.
    var detailValue: JSONValue { specialName.map(JSONValue.string) ?? jsonValue }
}
