/// Serialises `JSONValue`s as JSON text.
package struct JSONWriter: Sendable {
    package struct Options: OptionSet, Sendable {
        package let rawValue: Int
        package init(rawValue: Int) { self.rawValue = rawValue }

        /// Two-space indentation and newlines.
        package static let pretty = Options(rawValue: 1 << 0)
        /// Object members sorted by key (byte order of their UTF-8), for canonical forms such
        /// as the audit journal's hash input.
        package static let sortedKeys = Options(rawValue: 1 << 1)
    }

    package var options: Options

    package init(options: Options = []) {
        self.options = options
    }

    package func string(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package func write(_ value: JSONValue, into out: inout [UInt8]) {
        write(value, into: &out, indent: 0)
    }

    private func write(_ value: JSONValue, into out: inout [UInt8], indent: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): Self.writeInteger(i, into: &out)
        case .double(let d): Self.writeDouble(d, into: &out)
        case .exactNumber(let n): out.append(contentsOf: n.text.utf8)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let elements):
            if elements.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(into: &out, indent: indent + 1)
                write(element, into: &out, indent: indent + 1)
            }
            newline(into: &out, indent: indent)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            if options.contains(.sortedKeys) {
                let order = object.keys.indices.sorted { object.keys[$0].utf8.lexicographicallyPrecedes(object.keys[$1].utf8) }
                for (n, i) in order.enumerated() {
                    writeMember(object.keys[i], object.values[i], first: n == 0, into: &out, indent: indent)
                }
            } else {
                for i in object.keys.indices {
                    writeMember(object.keys[i], object.values[i], first: i == 0, into: &out, indent: indent)
                }
            }
            newline(into: &out, indent: indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func writeMember(_ key: String, _ value: JSONValue, first: Bool, into out: inout [UInt8], indent: Int) {
        if !first { out.append(UInt8(ascii: ",")) }
        newline(into: &out, indent: indent + 1)
        Self.writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
        if options.contains(.pretty) { out.append(UInt8(ascii: " ")) }
        write(value, into: &out, indent: indent + 1)
    }

    private func newline(into out: inout [UInt8], indent: Int) {
        guard options.contains(.pretty) else { return }
        out.append(0x0A)
        for _ in 0..<indent { out.append(contentsOf: [0x20, 0x20]) }
    }

    // The scalar writers are `package` so that typed writers (FHIR resources written straight to
    // bytes) spell numbers and strings exactly as this writer does.

    /// Shortest round-trip form; non-finite numbers have no JSON spelling and become `null`.
    package static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        guard d.isFinite else { out.append(contentsOf: "null".utf8); return }
        out.append(contentsOf: d.description.utf8)
    }

    package static func writeInteger(_ value: Int64, into out: inout [UInt8]) {
        withIntegerDigits(value) { out.append(contentsOf: $0) }
    }

    /// The integer's text (sign and digits) in a buffer that lives for the call of `body`.
    package static func withIntegerDigits(_ value: Int64, _ body: (UnsafeRawBufferPointer) -> Void) {
        // Digits are produced backwards into a fixed buffer; magnitude as UInt64 covers Int64.min.
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                i -= 1
                buffer[i] = UInt8(ascii: "-")
            }
            body(UnsafeRawBufferPointer(rebasing: buffer[i...]))
        }
    }

    package static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        writeStringContent(s, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `writeString` without the quotes: for writers whose quotes are already in place.
    package static func writeStringContent(_ s: String, into out: inout [UInt8]) {
        // Most strings need no escaping: copy them in one go.
        var string = s
        let copied = string.withUTF8 { bytes -> Bool in
            guard !needsEscaping(bytes) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied { return }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
    }
}

extension JSONWriter {
    /// Whether `writeString` has anything to escape in these bytes (typed writers copy them as they are otherwise).
    package static func needsEscaping(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        JSONQuery.needsEscaping(bytes)
    }
}

/// Whether any byte is a control character, `"` or `\`. Looks at eight bytes per step (the
/// classic "has a zero / a smaller byte" word tricks): Observations are mostly long ids and URLs,
/// and a byte-at-a-time scan was a tenth of the mapping hot path.
private func needsEscaping(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    var i = 0
    if let base = bytes.baseAddress {
        let raw = UnsafeRawPointer(base)
        while i + 8 <= bytes.count {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
            // A byte of x is below n (n <= 0x80) if (x - n*ones) & ~x & highs has its high bit;
            // a zero byte of quote/backslash marks a `"` or `\`.
            let below = (word &- ones &* 0x20) & ~word
            let zeroQuote = (quote &- ones) & ~quote
            let zeroBackslash = (backslash &- ones) & ~backslash
            if (below | zeroQuote | zeroBackslash) & highs != 0 { return true }
            i += 8
        }
    }
    while i < bytes.count {
        let byte = bytes[i]
        if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return true }
        i += 1
    }
    return false
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    package var description: String { JSONWriter().string(self) }
}
