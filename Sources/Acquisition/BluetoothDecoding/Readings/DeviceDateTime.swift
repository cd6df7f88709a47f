package import EdgeCore

/// A device clock reading (the Date Time characteristic layout): local time with no zone, as the
/// device's clock shows it.
package struct DeviceDateTime: Hashable, Sendable, CustomStringConvertible {
    package let year, month, day, hour, minute, second: Int

    /// Nil when the device says "not known" (year, month or day 0) or a field is out of range: such
    /// a reading keeps its receive time rather than being dropped.
    package init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        guard (1582...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second
    }

    /// `2024-01-15T08:30:00`: no zone, as the device reported it.
    package var description: String {
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
    }

    /// The instant this clock reading names when the device's clock runs at `offsetMinutes` from UTC
    /// (0: the gateway's rule for zone-less times, which treats them as UTC).
    package func timestamp(offsetMinutes: Int = 0) -> Timestamp {
        Timestamp(.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second), offsetMinutes: offsetMinutes)
    }

    /// This clock reading moved by whole minutes (the glucose time offset), across day and month ends.
    func adding(minutes: Int) -> DeviceDateTime? {
        let c = timestamp().adding(milliseconds: Int64(minutes) * 60_000).components
        return DeviceDateTime(year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute, second: c.second)
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
