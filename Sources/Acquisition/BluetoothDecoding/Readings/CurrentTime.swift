package import EdgeCore
package import JSONQuery

/// The Current Time characteristic (0x2A2B) of the Current Time Service (0x1805): the device's
/// clock now, as Exact Time 256 (a Date Time, the day of the week and 1/256 s) and why it was last
/// adjusted.
package struct CurrentTime: Hashable, Sendable {
    /// The Current Time Service.
    package static let serviceUUID: UInt16 = 0x1805
    /// The Current Time characteristic.
    package static let characteristicUUID: UInt16 = 0x2A2B
    static let subject = "Current Time (0x2A2B)"

    /// Why the device last adjusted its clock (the Adjust Reason bits).
    package struct AdjustReason: OptionSet, Hashable, Sendable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        package static let manualTimeUpdate = AdjustReason(rawValue: 0x01)
        package static let externalReferenceTimeUpdate = AdjustReason(rawValue: 0x02)
        package static let changeOfTimeZone = AdjustReason(rawValue: 0x04)
        package static let changeOfDST = AdjustReason(rawValue: 0x08)
    }

    /// The clock's date and time; nil when the device says it does not know them (year, month
    /// or day 0): its clock is not set.
    package let dateTime: DeviceDateTime?
    /// 1 (Monday) to 7 (Sunday); nil when the device does not know it (0).
    package let dayOfWeek: Int?
    /// Fractions of a second, in 1/256 s.
    package let fractions256: Int
    /// The reserved high bits are dropped.
    package let adjustReason: AdjustReason

    package init(dateTime: DeviceDateTime?, dayOfWeek: Int? = nil, fractions256: Int = 0, adjustReason: AdjustReason = []) {
        self.dateTime = dateTime
        self.dayOfWeek = dayOfWeek
        self.fractions256 = fractions256
        self.adjustReason = adjustReason
    }

    /// Decodes the 10-byte value; bytes after it (a later revision's fields) are ignored.
    /// - Throws: `DecodeError` `truncated` when fewer than 10 bytes, `reservedValue` when a known
    ///   date has a field out of range (month 13, hour 24...) or the day of the week is above 7.
    package static func decode(_ bytes: [UInt8]) throws(DecodeError) -> CurrentTime {
        var reader = ByteReader(bytes, subject: subject)
        let start = reader.offset
        let b = Array(try reader.take(7, "Date Time"))
        let year = Int(b[0]) | Int(b[1]) << 8
        let (month, day) = (Int(b[2]), Int(b[3]))
        var dateTime: DeviceDateTime?
        if year != 0, month != 0, day != 0 {
            guard let known = DeviceDateTime(year: year, month: month, day: day, hour: Int(b[4]), minute: Int(b[5]), second: Int(b[6])) else {
                throw reader.error("Date Time", .reservedValue, "a field is out of range", at: start)
            }
            dateTime = known
        }
        let dayOffset = reader.offset
        let day256 = Int(try reader.uint8("Day of Week"))
        guard day256 <= 7 else { throw reader.error("Day of Week", .reservedValue, "\(day256) is above 7", at: dayOffset) }
        let fractions = Int(try reader.uint8("Fractions256"))
        let reason = try reader.uint8("Adjust Reason")
        return CurrentTime(
            dateTime: dateTime, dayOfWeek: day256 == 0 ? nil : day256, fractions256: fractions,
            adjustReason: AdjustReason(rawValue: reason & 0x0F))
    }

    /// The instant the clock shows, taken as UTC (the gateway's rule for zone-less device times,
    /// the same as for readings), to the millisecond; nil when the clock is not set.
    package var timestamp: Timestamp? {
        dateTime.map { $0.timestamp().adding(milliseconds: Int64(fractions256) * 1000 / 256) }
    }
}

/// A device clock checked against the gateway's on connect: what a device-timed reading needs to
/// follow the PHD IG's coincident time stamp (docs/phd-ig.md).
package struct DeviceClock: Hashable, Sendable {
    /// Device clock minus gateway clock, in whole seconds: -7200 for a device two hours behind.
    package let offsetSeconds: Int
    /// When the gateway read the device's clock (its own clock).
    package let checkedAt: Timestamp
    /// The largest offset, either way, that counts as synchronised.
    package let toleranceSeconds: Int

    package init(offsetSeconds: Int, checkedAt: Timestamp, toleranceSeconds: Int) {
        self.offsetSeconds = offsetSeconds
        self.checkedAt = checkedAt
        self.toleranceSeconds = toleranceSeconds
    }

    /// The check of `current` read at gateway time `checkedAt`; nil when the device's clock is not set.
    package init?(current: CurrentTime, checkedAt: Timestamp, toleranceSeconds: Int) {
        guard let device = current.timestamp else { return nil }
        let milliseconds = device.millisecondsSinceEpoch - checkedAt.millisecondsSinceEpoch
        // Rounded half away from zero, to whole seconds.
        let seconds = (abs(milliseconds) + 500) / 1000
        self.init(offsetSeconds: Int(milliseconds < 0 ? -seconds : seconds), checkedAt: checkedAt, toleranceSeconds: toleranceSeconds)
    }

    /// Off: beyond the tolerance, so device-timed readings are corrected by the offset.
    package var isOff: Bool { abs(offsetSeconds) > toleranceSeconds }

    /// The instant the device's clock named, on the gateway's clock.
    package func corrected(_ deviceInstant: Timestamp) -> Timestamp {
        deviceInstant.adding(milliseconds: -Int64(offsetSeconds) * 1000)
    }

    /// The message's `clock` object: `{"offsetSeconds": -7200, "toleranceSeconds": 60,
    /// "checkedAt": "...", "status": "off"}` (`synchronised` within the tolerance).
    package var json: JSONValue {
        [
            "offsetSeconds": .int(Int64(offsetSeconds)), "toleranceSeconds": .int(Int64(toleranceSeconds)),
            "checkedAt": .string(checkedAt.iso8601), "status": .string(isOff ? "off" : "synchronised"),
        ]
    }
}
