package import EdgeCore
package import JSONQuery

/// A decoded BTHome v2 advert: measurements, binary sensors and events, named as bthome-ble and
/// Home Assistant name them. An object type that occurs more than once gets `_1`, `_2`... suffixes.
package struct BTHomeAdvert: Hashable, Sendable {
    package enum Value: Hashable, Sendable {
        case number(MedicalFloat)
        case text(String)
        case bytes([UInt8])
        /// The timestamp object (0x50): the device clock as an instant.
        case time(Timestamp)
    }

    package struct Measurement: Hashable, Sendable {
        package let name: String
        package let value: Value
        /// The BTHome unit (`°C`, `%`, `hPa`...), nil for counts and ids.
        package let unit: String?
    }

    package struct BinarySensor: Hashable, Sendable {
        package let name: String
        package let isOn: Bool
    }

    package struct Event: Hashable, Sendable {
        package let name: String
        /// `press`, `double_press`, `long_press`, `rotate_left`...
        package let eventType: String
        /// Dimmer events: the number of steps turned.
        package let steps: Int?
    }

    package let encrypted: Bool
    /// The device advertises on events rather than at a regular interval.
    package let triggerBased: Bool
    package let measurements: [Measurement]
    package let binarySensors: [BinarySensor]
    package let events: [Event]

    package func measurement(named name: String) -> Measurement? {
        measurements.first { $0.name == name }
    }

    /// The JSON device message for templates:
    ///
    /// ```json
    /// {"deviceId": "F0:00:00:00:FC:D2", "format": "bthome-v2", "time": "2026-11-27T08:15:00.000Z",
    ///  "timeSource": "receiver", "receivedAt": "2026-11-27T08:15:00.000Z", "encrypted": false, "triggerBased": false,
    ///  "values": {"packet_id": 1, "battery": 97, "temperature": 21.5, "humidity": 45},
    ///  "units": {"battery": "%", "temperature": "Cel", "humidity": "%"},
    ///  "binarySensors": {"motion": true}, "events": {"button": "press"}}
    /// ```
    ///
    /// Units are UCUM codes (`Cel` for °C). `time` is the advert's timestamp object when it has
    /// one (`timeSource: "device"`), else the receive time. `binarySensors` and `events` appear
    /// only when the advert has some. `patientId` is written when given.
    package func message(deviceID: String, receivedAt: Timestamp, patientID: String? = nil) -> JSONValue {
        var message = JSONObject()
        message["deviceId"] = .string(deviceID)
        if let patientID { message["patientId"] = .string(patientID) }
        message["format"] = "bthome-v2"
        var deviceClock: Timestamp?
        var values = JSONObject()
        var units = JSONObject()
        for measurement in measurements {
            switch measurement.value {
            case .number(let number):
                values[measurement.name] = number.jsonValue
                if let unit = measurement.unit { units[measurement.name] = .string(BTHomeObject.ucum[unit] ?? unit) }
            case .text(let text):
                values[measurement.name] = .string(text)
            case .bytes(let bytes):
                values[measurement.name] = .string(Hex.string(bytes))
            case .time(let time):
                values[measurement.name] = .string(time.iso8601)
                deviceClock = deviceClock ?? time
            }
        }
        if let deviceClock {
            message["time"] = .string(deviceClock.iso8601)
            message["timeSource"] = "device"
            message["receivedAt"] = .string(receivedAt.iso8601)
        } else {
            appendTime(to: &message, deviceTime: nil, receivedAt: receivedAt)
        }
        message["encrypted"] = .bool(encrypted)
        message["triggerBased"] = .bool(triggerBased)
        message["values"] = .object(values)
        message["units"] = .object(units)
        if !binarySensors.isEmpty {
            message["binarySensors"] = .object(JSONObject(binarySensors.map { ($0.name, .bool($0.isOn)) }))
        }
        if !events.isEmpty {
            message["events"] = .object(JSONObject(events.map { ($0.name, .string($0.eventType)) }))
        }
        return .object(message)
    }
}

