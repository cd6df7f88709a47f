/// An instant in UTC with millisecond precision: the unit the whole pipeline keeps times in.
///
/// Device clocks and FHIR timestamps rarely carry more than milliseconds, and grouping windows
/// end one millisecond before the next window starts (`...59:59.999Z`).
package struct Timestamp: Hashable, Comparable, Sendable {
    package var millisecondsSinceEpoch: Int64

    package init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    package init(secondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = secondsSinceEpoch &* 1000
    }

    package static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    package func adding(milliseconds: Int64) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + milliseconds)
    }

    /// The civil UTC fields of this instant.
    package var components: Components {
        let ms = millisecondsSinceEpoch
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        let (year, month, day) = Self.civil(fromDays: days)
        return Components(
            year: year, month: month, day: day,
            hour: Int(msOfDay / 3_600_000), minute: Int(msOfDay / 60_000 % 60),
            second: Int(msOfDay / 1000 % 60), millisecond: Int(msOfDay % 1000))
    }

    package init(_ c: Components, offsetMinutes: Int = 0) {
        let days = Self.days(fromCivil: c.year, c.month, c.day)
        let ms = days * 86_400_000 + Int64(c.hour) * 3_600_000 + Int64(c.minute) * 60_000
            + Int64(c.second) * 1000 + Int64(c.millisecond) - Int64(offsetMinutes) * 60_000
        self.init(millisecondsSinceEpoch: ms)
    }

    package struct Components: Hashable, Sendable {
        package var year, month, day, hour, minute, second, millisecond: Int
        package init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, millisecond: Int = 0) {
            self.year = year; self.month = month; self.day = day
            self.hour = hour; self.minute = minute; self.second = second; self.millisecond = millisecond
        }
    }

    /// ISO 8601 in UTC with milliseconds: `2019-02-01T22:46:01.875Z`. Written into a fixed buffer
    /// for four-digit years: every Observation needs two or three of these.
    package var iso8601: String {
        let c = components
        guard c.year >= 0, c.year <= 9999 else { return Self.wideISO8601(c) }
        return String(unsafeUninitializedCapacity: 24) { Self.writeISO8601(c, into: $0) }
    }

    /// `iso8601`'s bytes appended to `out`, without the String.
    package func appendISO8601(to out: inout [UInt8]) {
        let c = components
        guard c.year >= 0, c.year <= 9999 else {
            out.append(contentsOf: Self.wideISO8601(c).utf8)
            return
        }
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &text) { raw in
            let written = Self.writeISO8601(c, into: raw.bindMemory(to: UInt8.self))
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[..<written]))
        }
    }

    private static func wideISO8601(_ c: Components) -> String {
        "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(c.millisecond, 3))Z"
    }

    /// The 24 bytes of a four-digit year's ISO 8601 text.
    private static func writeISO8601(_ c: Components, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        /// `width` digits of `value` at `offset`, after the `separator` just before them.
        func put(_ value: Int, _ width: Int, at offset: Int, after separator: UInt8? = nil) {
            if let separator { buffer[offset - 1] = separator }
            var v = value
            for i in stride(from: offset + width - 1, through: offset, by: -1) {
                buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            }
        }
        put(c.year, 4, at: 0)
        put(c.month, 2, at: 5, after: UInt8(ascii: "-"))
        put(c.day, 2, at: 8, after: UInt8(ascii: "-"))
        put(c.hour, 2, at: 11, after: UInt8(ascii: "T"))
        put(c.minute, 2, at: 14, after: UInt8(ascii: ":"))
        put(c.second, 2, at: 17, after: UInt8(ascii: ":"))
        put(c.millisecond, 3, at: 20, after: UInt8(ascii: "."))
        buffer[23] = UInt8(ascii: "Z")
        return 24
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
