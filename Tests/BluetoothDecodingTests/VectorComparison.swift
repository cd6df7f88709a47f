import BluetoothDecoding
import EdgeCore
import Foundation
import JSONQuery

/// Turns decoded readings into the field names and conventions of ../shared/conformance/ble, and
/// compares with the published `expected` objects (numbers to a relative 1e-9, as its README says).
enum VectorComparison {
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }

    /// Differences between `got` and `want`, as readable paths; empty when they agree.
    static func differences(_ got: JSONValue, _ want: JSONValue, path: String = "") -> [String] {
        switch (got, want) {
        case (.object(let g), .object(let w)):
            var out: [String] = []
            let keys = Set(g.keys).union(w.keys)
            for key in keys.sorted() {
                out += differences(g[key] ?? .string("<absent>"), w[key] ?? .string("<absent>"), path: "\(path).\(key)")
            }
            return out
        case (.array(let g), .array(let w)):
            guard g.count == w.count else { return ["\(path): \(g.count) elements, expected \(w.count)"] }
            return zip(g, w).enumerated().flatMap { differences($0.element.0, $0.element.1, path: "\(path)[\($0.offset)]") }
        default:
            if let a = got.doubleValue, let b = want.doubleValue, got.isNumber, want.isNumber {
                let scale = max(abs(a), abs(b), 1e-300)
                return abs(a - b) / scale <= 1e-9 ? [] : ["\(path): \(a), expected \(b)"]
            }
            return got == want ? [] : ["\(path): \(got), expected \(want)"]
        }
    }

    static func number(_ value: MedicalFloat?) -> JSONValue {
        guard let value else { return .null }
        if let special = value.specialName { return .string(special) }
        return value.doubleValue.map(JSONValue.double) ?? .null
    }

    /// `notSupported` → `not_supported`, `bodyMovementDetected` → `body_movement_detected`.
    static func snake(_ camel: String) -> String {
        var out = ""
        for character in camel {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    static func snakeKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(JSONObject(object.members.map { (snake($0.0), snakeKeys($0.1)) }))
        case .string(let text):
            return .string(snake(text))
        default:
            return value
        }
    }

    /// The reading in the vector files' shape for its characteristic.
    static func fields(_ reading: HealthReading, flags: UInt8) -> JSONValue {
        let v = { (name: String) in number(reading.value(named: name)?.value) }
        let d = { (name: String) in reading.details[name] ?? .null }
        let time: JSONValue = reading.deviceTime.map { .string($0.description) } ?? .null
        let unitOf = { (name: String) in reading.value(named: name)?.unit }
        // The vectors give metric heights in m; readings give them in cm.
        let height: JSONValue = reading.value(named: "height").map { $0.unit == "cm" ? .double(($0.value.doubleValue ?? 0) / 100) : number($0.value) } ?? .null
        switch reading.characteristic.uuid16 {
        case 0x2A37:
            let seconds = reading.details["rrIntervals"]?.arrayValue ?? []
            return [
                "heart_rate_bpm": v("heartRate"), "heart_rate_format": flags & 1 == 0 ? "uint8" : "uint16",
                "sensor_contact": .string(snake(d("sensorContact").stringValue ?? "")), "energy_expended_kj": v("energyExpended"),
                "rr_intervals_s": .array(seconds),
                "rr_intervals_1024ths": .array(seconds.map { .double(($0.doubleValue ?? 0) * 1024) }),
            ]
        case 0x2A35, 0x2A36:
            let first = reading.characteristic == .intermediateCuffPressure ? "cuffPressure" : "systolic"
            var object: JSONObject = [
                "unit": unitOf(first) == "kPa" ? "kPa" : "mmHg", "timestamp": time, "pulse_rate_bpm": v("pulseRate"),
                "user_id": d("userId"), "measurement_status": snakeKeys(d("measurementStatus")),
            ]
            if reading.characteristic == .intermediateCuffPressure {
                object["current_cuff_pressure"] = v("cuffPressure")
                object["diastolic_field"] = d("diastolicField")
                object["mean_arterial_pressure_field"] = d("meanArterialPressureField")
            } else {
                object["systolic"] = v("systolic")
                object["diastolic"] = v("diastolic")
                object["mean_arterial_pressure"] = v("meanArterialPressure")
            }
            return .object(object)
        case 0x2A1C, 0x2A1E:
            return [
                "unit": unitOf("temperature") == "[degF]" ? "Fahrenheit" : "Celsius", "temperature": v("temperature"),
                "timestamp": time, "temperature_type": d("temperatureType"),
            ]
        case 0x2A5E:
            return [
                "spo2_pct": v("spo2"), "pulse_rate_bpm": v("pulseRate"), "timestamp": time, "measurement_status": d("measurementStatus"),
                "device_and_sensor_status": d("deviceAndSensorStatus"), "pulse_amplitude_index_pct": v("pulseAmplitudeIndex"),
                "device_clock_not_set": d("deviceClockNotSet"),
            ]
        case 0x2A5F:
            return [
                "spo2_pct": v("spo2"), "pulse_rate_bpm": v("pulseRate"), "spo2_fast_pct": v("spo2Fast"),
                "pulse_rate_fast_bpm": v("pulseRateFast"), "spo2_slow_pct": v("spo2Slow"), "pulse_rate_slow_bpm": v("pulseRateSlow"),
                "measurement_status": d("measurementStatus"), "device_and_sensor_status": d("deviceAndSensorStatus"),
                "pulse_amplitude_index_pct": v("pulseAmplitudeIndex"),
            ]
        case 0x2A9D:
            let imperial = d("unitSystem") == "imperial"
            return [
                "unit": imperial ? "lb" : "kg", "weight": v("weight"), "timestamp": time, "user_id": d("userId"), "bmi": v("bmi"),
                "height": height, "height_unit": imperial ? "in" : "m",
            ]
        case 0x2A9C:
            let imperial = d("unitSystem") == "imperial"
            return [
                "unit_system": d("unitSystem"), "mass_unit": imperial ? "lb" : "kg", "height_unit": imperial ? "in" : "m",
                "body_fat_pct": v("bodyFat"), "timestamp": time, "user_id": d("userId"), "basal_metabolism_kj": v("basalMetabolism"),
                "muscle_pct": v("musclePercentage"), "muscle_mass": v("muscleMass"), "fat_free_mass": v("fatFreeMass"),
                "soft_lean_mass": v("softLeanMass"), "body_water_mass": v("bodyWaterMass"), "impedance_ohm": v("impedance"),
                "weight": v("weight"), "height": height, "multiple_packet_measurement": d("multiplePacketMeasurement"),
            ]
        case 0x2A18:
            let glucose = reading.value(named: "glucose")
            let raw = glucose.map { $0.unit == "mg/dL" ? number($0.value).doubleValue.map { $0 / 1e5 } : number($0.value).doubleValue.map { $0 / 1e3 } }
            return [
                "sequence_number": d("sequenceNumber"), "base_time": d("baseTime"), "time_offset_min": d("timeOffset"),
                "concentration": raw.flatMap { $0 }.map(JSONValue.double) ?? .null,
                "concentration_unit": glucose.map { .string($0.unit == "mg/dL" ? "kg/L" : "mol/L") } ?? .null,
                "type": d("sampleType"), "sample_location": d("sampleLocation"),
                "sensor_status_annunciation": d("sensorStatusAnnunciation"), "context_information_follows": d("contextInformationFollows"),
            ]
        default:
            return .null
        }
    }

    static func fields(_ advert: BTHomeAdvert) -> JSONValue {
        var measurements = JSONObject()
        for measurement in advert.measurements {
            let value: JSONValue
            switch measurement.value {
            case .number(let number): value = self.number(number)
            case .text(let text): value = .string(text)
            case .bytes(let bytes): value = .array(bytes.map { .int(Int64($0)) })
            case .time(let time): value = .string(time.iso8601)
            }
            measurements[measurement.name] = ["value": value, "unit": measurement.unit.map(JSONValue.string) ?? .null]
        }
        return [
            "encrypted": .bool(advert.encrypted), "trigger_based": .bool(advert.triggerBased), "measurements": .object(measurements),
            "binary_sensors": .object(JSONObject(advert.binarySensors.map { ($0.name, .bool($0.isOn)) })),
            "events": .object(
                JSONObject(
                    advert.events.map {
                        ($0.name, ["event_type": .string($0.eventType), "event_properties": $0.steps.map { ["steps": .int(Int64($0))] } ?? .null])
                    })),
        ]
    }
}

extension JSONValue {
    /// The array element at `index`, nil when this is not an array or the index is out of range.
    subscript(index: Int) -> JSONValue? {
        guard let elements = arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}
