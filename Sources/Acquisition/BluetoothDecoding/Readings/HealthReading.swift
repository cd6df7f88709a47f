package import EdgeCore
package import JSONQuery

/// One measured quantity of a reading, in the unit the device sent, written as a UCUM code.
package struct MeasuredValue: Hashable, Sendable {
    /// The name device messages use: `heartRate`, `systolic`, `spo2`.
    package let name: String
    package let value: MedicalFloat
    /// UCUM: `/min`, `mm[Hg]`, `kPa`, `Cel`, `[degF]`, `kg`, `[lb_av]`, `cm`, `[in_i]`, `%`, `mg/dL`, `mmol/L`...
    package let unit: String

    package init(name: String, value: MedicalFloat, unit: String) {
        self.name = name
        self.value = value
        self.unit = unit
    }
}

/// A decoded health characteristic value: its quantities with units, what its flags and status
/// fields say, and the device's own timestamp when it sent one.
package struct HealthReading: Hashable, Sendable {
    package let characteristic: HealthCharacteristic
    /// The quantities, in the characteristic's field order; absent optional fields are not listed.
    package let values: [MeasuredValue]
    /// Everything else the value says, by name: sensor contact, RR intervals, user id, status bits,
    /// sequence number, sample type... (see docs/bluetooth.md's table per characteristic).
    package let details: JSONObject
    /// The measurement's time by the device's clock, when the value carries one it knows.
    package let deviceTime: DeviceDateTime?

    package init(characteristic: HealthCharacteristic, values: [MeasuredValue], details: JSONObject, deviceTime: DeviceDateTime?) {
        self.characteristic = characteristic
        self.values = values
        self.details = details
        self.deviceTime = deviceTime
    }

    /// The quantity with that name, if the value carried it.
    package func value(named name: String) -> MeasuredValue? {
        values.first { $0.name == name }
    }

    /// The JSON device message the profile's MedTech templates read:
    ///
    /// ```json
    /// {"deviceId": "F0:00:00:00:18:10", "characteristic": "bloodPressureMeasurement", "uuid": "2A35",
    ///  "time": "2024-01-15T08:30:00.000Z", "timeSource": "device", "deviceTime": "2024-01-15T08:30:00",
    ///  "receivedAt": "2026-11-27T08:15:00.123Z",
    ///  "values": {"systolic": 120, "diastolic": 80, "meanArterialPressure": 93, "pulseRate": 72},
    ///  "units": {"systolic": "mm[Hg]", "diastolic": "mm[Hg]", "meanArterialPressure": "mm[Hg]", "pulseRate": "/min"},
    ///  "details": {"userId": 1}}
    /// ```
    ///
    /// `time` is the device's timestamp when present (`timeSource: "device"`; a zone-less device
    /// clock is taken as UTC, the gateway's rule), else `receivedAt` (`timeSource: "receiver"`).
    /// A quantity whose value is an IEEE 11073 special value is left out of `values` and `units` and
    /// listed in `unavailable` by name (`{"meanArterialPressure": "NaN"}`), so a template that
    /// requires it rejects the message instead of reading a number that is not one. `patientId` is
    /// written when given (the patient a configuration assigns to the device), for Create identity.
    /// `device` is what the device's Device Information Service said (`{"manufacturerName": ...,
    /// "modelNumber": ..., "serialNumber": ..., "firmwareRevision": ...}`), written when it said
    /// anything: the mapping stage puts it on the FHIR Device; templates do not read it. `notes`
    /// names the quality conditions the status fields report (`measurementNotes`), when any;
    /// `bodySite` where the reading was taken (`bodySite`), when the value says.
    ///
    /// `clock` is the device clock's check on this link (its Current Time against the gateway's
    /// clock), written as `clock` on a device-timed reading. When that clock is off beyond the
    /// tolerance, `time` is the device time corrected by the offset (the PHD IG's coincident time
    /// stamp correction: `deviceTime` minus `clock.offsetSeconds`) and `deviceTime` stays what the
    /// device said.
    package func message(
        deviceID: String, receivedAt: Timestamp, patientID: String? = nil, device: DeviceInformation? = nil,
        clock: DeviceClock? = nil
    ) -> JSONValue {
        var message = JSONObject()
        message["deviceId"] = .string(deviceID)
        if let patientID { message["patientId"] = .string(patientID) }
        message["characteristic"] = .string(characteristic.key)
        message["uuid"] = .string(hex4(characteristic.uuid16))
        appendTime(to: &message, deviceTime: deviceTime, receivedAt: receivedAt, clock: clock)
        var numbers = JSONObject()
        var units = JSONObject()
        var unavailable = JSONObject()
        for value in values {
            if let special = value.value.specialName {
                unavailable[value.name] = .string(special)
            } else {
                numbers[value.name] = value.value.jsonValue
                units[value.name] = .string(value.unit)
            }
        }
        message["values"] = .object(numbers)
        message["units"] = .object(units)
        if !unavailable.isEmpty { message["unavailable"] = .object(unavailable) }
        if !details.isEmpty { message["details"] = .object(details) }
        let notes = measurementNotes
        if !notes.isEmpty { message["notes"] = .array(notes.map { .string($0) }) }
        if let bodySite { message["bodySite"] = bodySite }
        if let device, !device.isEmpty { message["device"] = device.json }
        return .object(message)
    }
}

/// `time`, `timeSource`, `deviceTime`, `clock` and `receivedAt`, shared by health readings and adverts.
func appendTime(to message: inout JSONObject, deviceTime: DeviceDateTime?, receivedAt: Timestamp, clock: DeviceClock? = nil) {
    if let deviceTime {
        let instant = deviceTime.timestamp()
        message["time"] = .string((clock.map { $0.isOff ? $0.corrected(instant) : instant } ?? instant).iso8601)
        message["timeSource"] = "device"
        message["deviceTime"] = .string(deviceTime.description)
        if let clock { message["clock"] = clock.json }
    } else {
        message["time"] = .string(receivedAt.iso8601)
        message["timeSource"] = "receiver"
    }
    message["receivedAt"] = .string(receivedAt.iso8601)
}

extension MedicalFloat {
    /// A JSON number: an integer when the decimal has no fraction, else the nearest double.
    /// Special values are `null` (callers list them separately).
    var jsonValue: JSONValue {
        guard case .finite(let mantissa, let exponent) = self else { return .null }
        if exponent >= 0, exponent <= 12 {
            var value = mantissa
            for _ in 0..<exponent {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                if overflow { return doubleValue.map(JSONValue.double) ?? .null }
                value = product
            }
            return .int(value)
        }
        return doubleValue.map(JSONValue.double) ?? .null
    }
}
