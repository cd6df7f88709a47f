package import JSONQuery

/// A FHIR `decimal`, kept as the text it was given so that its precision survives
/// (`98.43639286275842` stays exactly that).
///
/// It is written as a JSON integer when the text is one, as the shortest double when a `Double`
/// holds its value exactly (so trailing zeros go: `72.50` is written `72.5`), and otherwise as the
/// text itself (an integer beyond 64 bits, more significant digits than a `Double` keeps).
package struct FHIRDecimal: Hashable, Sendable, CustomStringConvertible {
    package let text: String

    /// Accepts a JSON number literal (`-12`, `0.5`, `1e3`); anything else is nil.
    package init?(_ text: String) {
        guard Self.isNumberLiteral(text), Double(text)?.isFinite == true else { return nil }
        self.text = text
    }

    package init(_ value: Int64) { self.text = String(value) }

    /// Nil for infinities and NaN, which FHIR cannot carry.
    package init?(_ value: Double) {
        guard value.isFinite else { return nil }
        if value == value.rounded(), abs(value) < 1e15 {
            self.text = String(Int64(value))
        } else {
            self.text = value.description
        }
    }

    init?(json: JSONValue) {
        switch json {
        case .int(let i): self.init(i)
        case .double(let d): self.init(d)
        case .exactNumber(let n): self.init(n.text)
        default: return nil
        }
    }

    package var doubleValue: Double { Double(text) ?? 0 }

    /// The number's JSON text appended to `out`, as the tree writes it.
    package func appendJSON(to out: inout [UInt8]) {
        withJSONBytes { out.append(contentsOf: $0) }
    }

    /// The number's JSON text, in a buffer that lives for the call of `body`: an integer's
    /// digits straight, any other number through its `json` value and `JSONWriter`.
    func withJSONBytes(_ body: (UnsafeRawBufferPointer) -> Void) {
        if let integer = Int64(text) {
            JSONWriter.withIntegerDigits(integer, body)
        } else {
            var bytes: [UInt8] = []
            JSONWriter().write(json, into: &bytes)
            bytes.withUnsafeBytes(body)
        }
    }

    package var description: String { text }

    package var json: JSONValue {
        if let integer = Int64(text) { return .int(integer) }
        return JSONValue(numberText: text) ?? .double(doubleValue)
    }

    private static func isNumberLiteral(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let digits = bytes.prefix { $0 >= 48 && $0 <= 57 }
        guard !digits.isEmpty else { return false }
        bytes = bytes.dropFirst(digits.count)
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            let fraction = bytes.prefix { $0 >= 48 && $0 <= 57 }
            guard !fraction.isEmpty else { return false }
            bytes = bytes.dropFirst(fraction.count)
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            let exponent = bytes.prefix { $0 >= 48 && $0 <= 57 }
            guard !exponent.isEmpty else { return false }
            bytes = bytes.dropFirst(exponent.count)
        }
        return bytes.isEmpty
    }
}
