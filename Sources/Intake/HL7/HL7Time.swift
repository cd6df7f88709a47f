package import EdgeCore

/// HL7 v2 DTM / TS: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
package enum HL7Time {
    /// The instant `text` names, or nil when it is not a DTM. A time without offset is taken at
    /// `defaultOffsetMinutes` (the offset of MSH-7 when it has one, as v2.6 2.A.22 says the sender's
    /// zone applies). Missing trailing parts count as their start (a date is its midnight).
    package static func parse(_ text: String, defaultOffsetMinutes: Int = 0) -> Timestamp? {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }
        func atDigit() -> Bool { index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 }
        guard let year = digits(4) else { return nil }
        var month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0
        if atDigit() { guard let value = digits(2), (1...12).contains(value) else { return nil }; month = value }
        if atDigit() { guard let value = digits(2), (1...31).contains(value) else { return nil }; day = value }
        if atDigit() { guard let value = digits(2), value < 24 else { return nil }; hour = value }
        if atDigit() { guard let value = digits(2), value < 60 else { return nil }; minute = value }
        if atDigit() { guard let value = digits(2), value < 60 else { return nil }; second = value }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 100
            var count = 0
            while atDigit() {
                if scale > 0 { millisecond += Int(bytes[index] - 0x30) * scale }
                scale /= 10
                index += 1
                count += 1
            }
            guard (1...4).contains(count) else { return nil }
        }
        var offset = defaultOffsetMinutes
        if index < bytes.count {
            let sign = bytes[index]
            guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
            index += 1
            guard let hours = digits(2), let minutes = digits(2), hours <= 14, minutes < 60 else { return nil }
            offset = (hours * 60 + minutes) * (sign == UInt8(ascii: "-") ? -1 : 1)
        }
        guard index == bytes.count, day <= daysIn(month: month, year: year) else { return nil }
        return Timestamp(
            Timestamp.Components(year: year, month: month, day: day, hour: hour, minute: minute, second: second, millisecond: millisecond),
            offsetMinutes: offset)
    }

    /// The offset a DTM carries (`+0100` → 60), nil without one.
    package static func offsetMinutes(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 5, let sign = bytes.lastIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }),
              bytes.count - sign == 5, let value = Int(String(decoding: bytes[(sign + 1)...], as: UTF8.self)) else { return nil }
        let minutes = value / 100 * 60 + value % 100
        return bytes[sign] == UInt8(ascii: "-") ? -minutes : minutes
    }

    /// A DTM for an instant in UTC with seconds: `20261206231502+0000`.
    package static func format(_ time: Timestamp) -> String {
        let c = time.components
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "+0000"
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
