/// A JSON number kept as the text it was written in, because neither `Int64` nor `Double` holds
/// it exactly: an integer beyond 64 bits (`12345678901234567891`), a decimal with more
/// significant digits than a `Double` keeps (`1.234567890123456789012345`), or a magnitude
/// beyond `Double`'s range (`1e999999`, `1e-999999`).
///
/// Json.NET reads such integers as `BigInteger` and prints them as their digits; this type does
/// the same for every such number, so identifiers and passed-through values keep their text.
/// Arithmetic uses `doubleValue` (the nearest `Double`, ±infinity beyond its range); comparisons
/// with integers and other kept numbers are exact (see `JSONValue.numericOrder`).
package struct JSONNumberText: Sendable, CustomStringConvertible {
    /// The number exactly as written: valid RFC 8259 number syntax.
    package let text: String
    /// The nearest `Double`; ±infinity or ±0 when the magnitude is beyond `Double`'s range.
    package let doubleValue: Double

    init(validated text: String, doubleValue: Double) {
        self.text = text
        self.doubleValue = doubleValue
    }

    package var description: String { text }

    /// True when written without a fraction or an exponent (what Json.NET reads as an integer).
    package var isInteger: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// The number's exact decimal value.
    package var decimal: DecimalDigits { DecimalDigits(text) }

    /// The same number without its sign.
    package var magnitude: JSONNumberText {
        guard text.utf8.first == UInt8(ascii: "-") else { return self }
        return JSONNumberText(validated: String(text.dropFirst()), doubleValue: Swift.abs(doubleValue))
    }
}

/// The exact value of a decimal number text: sign, significant digits without leading or trailing
/// zeros, and the decimal exponent of the first digit (`-0.0254` is `-`, `"254"`, `-2`).
/// Zero has no digits.
package struct DecimalDigits: Sendable, Equatable {
    package let negative: Bool
    package let digits: String
    package let exponent: Int

    /// `text` must be number syntax (optional `-`, digits, optional fraction and exponent).
    /// Exponents too large for `Int` are clamped; such numbers still order correctly.
    package init(_ text: some StringProtocol) {
        var negative = false
        var digits: [UInt8] = []
        var pointPosition: Int?
        var exponent = 0
        var bytes = text.utf8.makeIterator()
        var inExponent = false
        var exponentNegative = false
        while let byte = bytes.next() {
            switch byte {
            case UInt8(ascii: "-"):
                if inExponent { exponentNegative = true } else { negative = true }
            case UInt8(ascii: "+"):
                break
            case UInt8(ascii: "."):
                pointPosition = digits.count
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                inExponent = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if inExponent {
                    // Clamped far beyond any digit count, so the order of numbers is unaffected.
                    if exponent < 1 << 40 { exponent = exponent * 10 + Int(byte - UInt8(ascii: "0")) }
                } else {
                    digits.append(byte)
                }
            default:
                break
            }
        }
        if exponentNegative { exponent = -exponent }
        var first = (pointPosition ?? digits.count) - 1 + exponent
        var start = 0
        while start < digits.count, digits[start] == UInt8(ascii: "0") {
            start += 1
            first -= 1
        }
        var end = digits.count
        while end > start, digits[end - 1] == UInt8(ascii: "0") { end -= 1 }
        if start == end {
            self.negative = false
            self.digits = ""
            self.exponent = 0
        } else {
            self.negative = negative
            self.digits = String(decoding: digits[start..<end], as: UTF8.self)
            self.exponent = first
        }
    }

    package var isZero: Bool { digits.isEmpty }

    /// -1, 0 or 1: exact comparison of the two values.
    package static func order(_ a: DecimalDigits, _ b: DecimalDigits) -> Int {
        let signA = a.isZero ? 0 : (a.negative ? -1 : 1)
        let signB = b.isZero ? 0 : (b.negative ? -1 : 1)
        if signA != signB { return signA < signB ? -1 : 1 }
        if signA == 0 { return 0 }
        let magnitude: Int
        if a.exponent != b.exponent {
            magnitude = a.exponent < b.exponent ? -1 : 1
        } else if a.digits == b.digits {
            magnitude = 0
        } else {
            magnitude = a.digits.utf8.lexicographicallyPrecedes(b.digits.utf8) ? -1 : 1
        }
        return signA * magnitude
    }
}

extension JSONValue {
    /// The JSON value of a number text, as the parser builds it: `.int` when it is an integer
    /// that fits in `Int64`, `.double` when a `Double` holds it exactly (its shortest form has the
    /// same decimal value), otherwise `.exactNumber` keeping the text. Nil for anything that is
    /// not RFC 8259 number syntax.
    package init?(numberText text: String) {
        // The parser would also skip whitespace (and a byte-order mark) around the number.
        guard let first = text.utf8.first, let last = text.utf8.last,
            first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(last)
        else { return nil }
        var text = text
        let value = text.withUTF8 { bytes -> JSONValue? in
            var parser = JSONParser(bytes)
            return try? parser.parseDocument()
        }
        guard let value, value.isNumber else { return nil }
        self = value
    }

    /// The classification behind `init?(numberText:)`, for text already checked to be number
    /// syntax with a fraction or exponent (or an integer beyond `Int64`).
    static func classify(number text: String, isInteger: Bool) -> JSONValue {
        let double = Double(text) ?? (text.utf8.first == UInt8(ascii: "-") ? -.infinity : .infinity)
        if isInteger { return .exactNumber(JSONNumberText(validated: text, doubleValue: double)) }
        // Fixed notation with at most 15 significant digits always survives a Double.
        let utf8 = text.utf8
        if utf8.count <= 16, !utf8.contains(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            return .double(double)
        }
        if double.isFinite, DecimalDigits(text) == DecimalDigits(double.description) { return .double(double) }
        return .exactNumber(JSONNumberText(validated: text, doubleValue: double))
    }

    /// -1, 0 or 1 for two numbers, nil when either is not a number. Integers and kept numbers
    /// compare exactly among themselves; a comparison involving a `.double` uses `Double` values
    /// (NaN compares as greater).
    package static func numericOrder(_ a: JSONValue, _ b: JSONValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            return x < y ? -1 : (x == y ? 0 : 1)
        case (.exactNumber(let x), .exactNumber(let y)):
            return DecimalDigits.order(x.decimal, y.decimal)
        case (.exactNumber(let x), .int(let y)):
            return DecimalDigits.order(x.decimal, DecimalDigits(String(y)))
        case (.int(let x), .exactNumber(let y)):
            return DecimalDigits.order(DecimalDigits(String(x)), y.decimal)
        default:
            guard let x = a.doubleValue, let y = b.doubleValue else { return nil }
            return x < y ? -1 : (x == y ? 0 : 1)
        }
    }
}
