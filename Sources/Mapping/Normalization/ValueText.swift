import JSONQuery

/// Turns a selected JSON node into the string a Measurement property holds, as upstream's
/// `Convert.ToString(value, InvariantCulture)` does: strings unchanged, integers in decimal,
/// floats in .NET's shortest round-trip form (`1.0` -> `1`, `1E-05`), booleans `True`/`False`.
/// Null, objects and arrays have no string form (nil).
///
/// A number kept as text (beyond Int64, or more digits than a Double holds) keeps every digit:
/// an integer is its digits as written, as Json.NET's `BigInteger` prints; any other is laid out
/// like a double (fixed or `E` notation by the same rule) with all of its significant digits.
enum ValueText {
    static func string(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): dotNet(d)
        case .exactNumber(let n): n.isInteger ? n.text : dotNet(n.decimal)
        case .bool(let b): b ? "True" : "False"
        case .null, .object, .array: nil
        }
    }

    /// True for a string that is empty or only whitespace (.NET `IsNullOrWhiteSpace`).
    static func isBlank(_ s: String) -> Bool {
        for scalar in s.unicodeScalars {
            if scalar.value < 0x80 {
                if !(scalar == " " || (scalar.value >= 0x09 && scalar.value <= 0x0D)) { return false }
            } else if !scalar.properties.isWhitespace {
                return false
            }
        }
        return true
    }

    /// .NET Core 3.0+ `double.ToString()`: the shortest digits that round-trip, written in
    /// fixed notation unless the decimal exponent is below -4 or at least 15, then as
    /// `d.dddE+XX` (at least two exponent digits).
    static func dotNet(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }

        // Swift's description is also shortest round-trip; take its digits and exponent.
        let (digits, exponent) = shortestDigits(abs(d))
        return layout(negative: d < 0, digits: digits, exponent: exponent)
    }

    /// An exact decimal in the layout `dotNet(_: Double)` uses.
    static func dotNet(_ decimal: DecimalDigits) -> String {
        if decimal.isZero { return "0" }
        return layout(negative: decimal.negative, digits: decimal.digits, exponent: decimal.exponent)
    }

    /// Significant digits with the decimal exponent of the first: fixed notation for exponents
    /// from -4 to 14, otherwise `d.dddE+XX`.
    private static func layout(negative: Bool, digits: String, exponent: Int) -> String {
        var out = negative ? "-" : ""
        if exponent >= 15 || exponent < -4 {
            out.append(digits[digits.startIndex])
            if digits.count > 1 {
                out.append(".")
                out.append(contentsOf: digits.dropFirst())
            }
            out.append(exponent < 0 ? "E-" : "E+")
            let magnitude = String(abs(exponent))
            if magnitude.count < 2 { out.append("0") }
            out.append(magnitude)
        } else if exponent < 0 {
            out.append("0.")
            out.append(String(repeating: "0", count: -exponent - 1))
            out.append(digits)
        } else if digits.count <= exponent + 1 {
            out.append(digits)
            out.append(String(repeating: "0", count: exponent + 1 - digits.count))
        } else {
            let split = digits.index(digits.startIndex, offsetBy: exponent + 1)
            out.append(contentsOf: digits[..<split])
            out.append(".")
            out.append(contentsOf: digits[split...])
        }
        return out
    }

    /// Significant digits (no leading or trailing zeros) and the decimal exponent of the first
    /// digit, for a finite positive value: 0.0254 -> ("254", -2).
    private static func shortestDigits(_ d: Double) -> (String, Int) {
        let text = d.description  // e.g. "1.9811999999999999", "1e-05", "1.2345e+20"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = ""
        var pointPosition: Int?
        for character in mantissa {
            if character == "." { pointPosition = digits.count } else { digits.append(character) }
        }
        var firstDigitExponent = (pointPosition ?? digits.count) - 1 + exponent
        while digits.first == "0" {
            digits.removeFirst()
            firstDigitExponent -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits.isEmpty ? "0" : digits, firstDigitExponent)
    }
}
