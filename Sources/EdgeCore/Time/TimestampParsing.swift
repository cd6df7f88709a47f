extension Timestamp {
    /// Parses a date-time the way device payloads write them, leniently like .NET's invariant
    /// `DateTime.Parse`, which MedTech templates rely on:
    ///
    /// - `2019-02-01T22:46:01.8750000Z`, `2019-02-01T22:46:01+01:00`, `2019-02-01 22:46:01`,
    ///   `2019-02-01T22:46`, `2019-02-01` (midnight); the basic form `20190201T224601Z` is not;
    /// - the .NET invariant form `02/01/2019 22:46:01` (month/day/year), which upstream itself
    ///   produces when it turns a date value back into a string;
    /// - any number of fraction digits (kept to the millisecond, truncated), `T`/`t`/space as
    ///   separator, `Z`/`z`, `±HH:mm`, `±HHmm` or `±HH` as offset, surrounding whitespace.
    ///
    /// A time without a zone is taken as UTC (upstream runs with UTC as local time). Offsets are
    /// converted to the same instant. Numbers are not date-times: callers convert epoch values
    /// explicitly.
    package init?(parsingISO8601Lenient text: String) {
        var text = text
        guard let parsed = text.withUTF8({ bytes in
            var parser = LenientDateTimeParser(bytes: bytes)
            return parser.parse()
        }) else { return nil }
        self.init(parsed.components, offsetMinutes: parsed.offsetMinutes)
    }
}

/// A single forward pass over UTF-8 bytes; no allocation, no Foundation.
private struct LenientDateTimeParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func parse() -> (components: Timestamp.Components, offsetMinutes: Int)? {
        skipSpaces()
        guard let date = parseDate() else { return nil }
        var c = Timestamp.Components(year: date.year, month: date.month, day: date.day)
        var offset = 0
        if let byte = current, byte == UInt8(ascii: "T") || byte == UInt8(ascii: "t") || byte == UInt8(ascii: " ") {
            index += 1
            // `T` promises a time; a space may just be trailing whitespace.
            if byte != UInt8(ascii: " "), current == nil { return nil }
            skipSpaces()
            if current != nil {
                guard let time = parseTime() else { return nil }
                (c.hour, c.minute, c.second, c.millisecond) = time
                skipSpaces()
                if let zone = parseZone() { offset = zone }
            }
        } else if current != nil {
            // A date directly followed by a zone (`2019-02-01Z`).
            guard let zone = parseZone() else { return nil }
            offset = zone
        }
        skipSpaces()
        guard index == bytes.count else { return nil }
        guard Self.isValid(c) else { return nil }
        return (c, offset)
    }

    private mutating func parseDate() -> (year: Int, month: Int, day: Int)? {
        let start = index
        guard let first = digits(min: 1, max: 4) else { return nil }
        if index - start == 4, current == UInt8(ascii: "-") {
            // yyyy-MM-dd
            index += 1
            guard let month = digits(min: 1, max: 2), expect(UInt8(ascii: "-")),
                  let day = digits(min: 1, max: 2) else { return nil }
            return (first, month, day)
        }
        if index - start <= 2, current == UInt8(ascii: "/") {
            // MM/dd/yyyy (.NET invariant culture)
            index += 1
            guard let day = digits(min: 1, max: 2), expect(UInt8(ascii: "/")),
                  let year = digits(min: 4, max: 4) else { return nil }
            return (year, first, day)
        }
        return nil
    }

    /// `HH:mm[:ss[.fffffff]]`.
    private mutating func parseTime() -> (Int, Int, Int, Int)? {
        guard let hour = digits(min: 1, max: 2), expect(UInt8(ascii: ":")),
              let minute = digits(min: 2, max: 2) else { return nil }
        var second = 0
        var millisecond = 0
        if current == UInt8(ascii: ":") {
            index += 1
            guard let s = digits(min: 2, max: 2) else { return nil }
            second = s
            if current == UInt8(ascii: ".") || current == UInt8(ascii: ",") {
                index += 1
                var count = 0
                while let byte = current, isDigit(byte) {
                    if count < 3 { millisecond = millisecond * 10 + Int(byte - UInt8(ascii: "0")) }
                    count += 1
                    index += 1
                }
                guard count > 0 else { return nil }
                if count == 1 { millisecond *= 100 } else if count == 2 { millisecond *= 10 }
            }
        }
        return (hour, minute, second, millisecond)
    }

    /// `Z`, `±HH:mm`, `±HHmm` or `±HH`, as minutes east of UTC; nil when no zone is here.
    private mutating func parseZone() -> Int? {
        guard let byte = current else { return nil }
        if byte == UInt8(ascii: "Z") || byte == UInt8(ascii: "z") {
            index += 1
            return 0
        }
        guard byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") else { return nil }
        let start = index
        index += 1
        guard let hours = digits(min: 2, max: 2) else { index = start; return nil }
        var minutes = 0
        if current == UInt8(ascii: ":") {
            index += 1
            guard let m = digits(min: 2, max: 2) else { index = start; return nil }
            minutes = m
        } else if let m = digits(min: 2, max: 2) {
            minutes = m
        }
        guard hours <= 14, minutes <= 59 else { index = start; return nil }
        let total = hours * 60 + minutes
        return byte == UInt8(ascii: "-") ? -total : total
    }

    private mutating func digits(min: Int, max: Int) -> Int? {
        var value = 0
        var count = 0
        while count < max, let byte = current, isDigit(byte) {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            count += 1
            index += 1
        }
        return count >= min ? value : nil
    }

    private mutating func expect(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipSpaces() {
        while isSpace(current) { index += 1 }
    }

    private func isSpace(_ byte: UInt8?) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    static func isValid(_ c: Timestamp.Components) -> Bool {
        guard (1...9999).contains(c.year), (1...12).contains(c.month), c.day >= 1,
              c.hour <= 23, c.minute <= 59, c.second <= 59 else { return false }
        let leap = c.year % 4 == 0 && (c.year % 100 != 0 || c.year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return c.day <= lengths[c.month - 1]
    }
}

extension Timestamp {
    /// A certificate's validity time as OpenSSL prints it (`x509 -enddate`), always in GMT, the
    /// day padded with a space: `Jan  5 12:00:00 2027 GMT`.
    package init?(parsingCertificateTime text: String) {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = text.split(separator: " ")
        guard parts.count == 5, parts[4] == "GMT", let month = months.firstIndex(of: String(parts[0])),
              let day = Int(parts[1]), (1...31).contains(day), let year = Int(parts[3]), (1970...9999).contains(year)
        else { return nil }
        let time = parts[2].split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard time.count == 3, let hour = time[0], let minute = time[1], let second = time[2],
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        // A leap second is the last second of its minute here.
        self.init(Components(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: min(second, 59)))
    }
}
