/// Why a JSON text could not be parsed, and where (1-based line and column, 0-based byte offset).
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    package let reason: String
    package let offset: Int
    package let line: Int
    package let column: Int

    package var description: String { "invalid JSON at line \(line), column \(column): \(reason)" }
}

/// What a parse accepts beyond RFC 8259. The default is strict JSON: device messages and
/// everything received over the network are parsed that way.
package struct JSONParseOptions: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }

    /// `// line` and `/* block */` comments wherever whitespace may stand.
    package static let comments = JSONParseOptions(rawValue: 1 << 0)
    /// One trailing comma before the `}` or `]` that closes an object or array.
    package static let trailingCommas = JSONParseOptions(rawValue: 1 << 1)

    /// What Json.NET (and so MedTech) accepts in template files: comments and trailing commas.
    package static let template: JSONParseOptions = [.comments, .trailingCommas]
}

extension JSONValue {
    /// Parses one JSON text (RFC 8259). Whitespace may surround it; anything else after it is an error.
    package init(parsing text: String, options: JSONParseOptions = []) throws(JSONParseError) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(JSONParseError) in try JSONValue(parsing: bytes, options: options) }
        }
        self = try result.get()
    }

    package init(parsing bytes: some Collection<UInt8>, options: JSONParseOptions = []) throws(JSONParseError) {
        let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONParseError) in try JSONValue(parsing: buffer, options: options) }
        }
        if let result {
            self = try result.get()
        } else {
            let copy = Array(bytes)
            let result = copy.withUnsafeBufferPointer { buffer in
                Result { () throws(JSONParseError) in try JSONValue(parsing: buffer, options: options) }
            }
            self = try result.get()
        }
    }

    package init(parsing buffer: UnsafeBufferPointer<UInt8>, options: JSONParseOptions = []) throws(JSONParseError) {
        var parser = JSONParser(buffer, options: options)
        self = try parser.parseDocument()
    }

    /// Parses newline-delimited JSON: one value per non-blank line.
    /// Errors name the line of the input the bad value is on.
    package static func parseLines(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> [JSONValue] {
        var values: [JSONValue] = []
        var start = 0
        var lineNumber = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if line.contains(where: { !JSONParser.isWhitespace($0) }) {
                do {
                    values.append(try JSONValue(parsing: line))
                } catch {
                    throw JSONParseError(
                        reason: error.reason, offset: start + error.offset,
                        line: lineNumber, column: error.column)
                }
            }
            start = end + 1
            lineNumber += 1
        }
        return values
    }
}

/// A recursive-descent parser over UTF-8 bytes. Strings without escapes are decoded in one step.
struct JSONParser {
    static let maximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private let options: JSONParseOptions
    private var index = 0
    private var depth = 0
    /// The members and elements of the objects and arrays being parsed, innermost last. Each
    /// object and array gets arrays of its exact size when it closes: grown member by member,
    /// a five-member object cost eight allocations, and a large document of small objects kept
    /// up to twice the slots it used.
    private var memberKeys: [String] = []
    private var memberValues: [JSONValue] = []
    private var elements: [JSONValue] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>, options: JSONParseOptions = []) {
        self.bytes = bytes
        self.options = options
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        // A UTF-8 byte-order mark is tolerated at the very start: Windows tools write one.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        try skipWhitespace()
        guard index < bytes.count else { throw error("empty input", at: index) }
        let value = try parseValue()
        try skipWhitespace()
        guard index == bytes.count else { throw error("unexpected content after the JSON value", at: index) }
        return value
    }

    /// Skips whitespace and, with `.comments`, comments. Without that option a `/` is left for
    /// the caller, which reports it as an unexpected character.
    private mutating func skipWhitespace() throws(JSONParseError) {
        while index < bytes.count {
            let byte = bytes[index]
            if Self.isWhitespace(byte) {
                index += 1
            } else if byte == UInt8(ascii: "/"), options.contains(.comments) {
                try skipComment()
            } else {
                return
            }
        }
    }

    /// Skips the comment starting at `index` (a `/`).
    private mutating func skipComment() throws(JSONParseError) {
        let start = index
        guard index + 1 < bytes.count else { throw error("'/' that does not start a comment", at: start) }
        switch bytes[index + 1] {
        case UInt8(ascii: "/"):
            index += 2
            while index < bytes.count, bytes[index] != 0x0A, bytes[index] != 0x0D { index += 1 }
        case UInt8(ascii: "*"):
            index += 2
            while index + 1 < bytes.count {
                if bytes[index] == UInt8(ascii: "*"), bytes[index + 1] == UInt8(ascii: "/") {
                    index += 2
                    return
                }
                index += 1
            }
            throw error("unterminated /* comment", at: start)
        default:
            throw error("'/' that does not start a comment", at: start)
        }
    }

    /// After a `,`: true (and the closer consumed) when trailing commas are allowed and `closer` follows.
    private mutating func closesAfterComma(_ closer: UInt8) throws(JSONParseError) -> Bool {
        guard options.contains(.trailingCommas) else { return false }
        try skipWhitespace()
        guard index < bytes.count, bytes[index] == closer else { return false }
        index += 1
        return true
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character \(describe(bytes[index]))", at: index)
        }
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let start = index
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw error("invalid literal", at: start) }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for i in 0..<count where bytes[index + i] != expected[i] {
            throw error("invalid literal", at: start)
        }
        index += count
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maximumDepth { throw error("nesting deeper than \(Self.maximumDepth) levels", at: index) }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1  // {
        try skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject())
        }
        if memberKeys.capacity == 0 {
            memberKeys.reserveCapacity(16)
            memberValues.reserveCapacity(16)
        }
        let base = memberKeys.count
        var seen: Set<String>? = nil
        while true {
            try skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a member name in double quotes", at: index)
            }
            let key = try parseString()
            try skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("expected ':' after member name", at: index)
            }
            index += 1
            try skipWhitespace()
            let value = try parseValue()
            // Duplicate names: the last one wins, as in Json.NET and most parsers. Small objects
            // are checked by scanning; larger ones switch to a set.
            let count = memberKeys.count - base
            if count >= 16 && seen == nil { seen = Set(memberKeys[base...]) }
            let duplicate = seen.map { $0.contains(key) } ?? memberKeys[base...].contains(key)
            if duplicate, let i = memberKeys[base...].firstIndex(of: key) {
                memberValues[i] = value
            } else {
                memberKeys.append(key)
                memberValues.append(value)
                seen?.insert(key)
            }
            try skipWhitespace()
            guard index < bytes.count else { throw error("unterminated object", at: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                if try closesAfterComma(UInt8(ascii: "}")) { return closeObject(from: base) }
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return closeObject(from: base)
            } else {
                throw error("expected ',' or '}' in object", at: index)
            }
        }
    }

    private mutating func closeObject(from base: Int) -> JSONValue {
        let object = JSONObject(uniqueKeys: Array(memberKeys[base...]), values: Array(memberValues[base...]))
        memberKeys.removeSubrange(base...)
        memberValues.removeSubrange(base...)
        return .object(object)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1  // [
        try skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        if elements.capacity == 0 { elements.reserveCapacity(16) }
        let base = elements.count
        while true {
            try skipWhitespace()
            let element = try parseValue()
            elements.append(element)
            try skipWhitespace()
            guard index < bytes.count else { throw error("unterminated array", at: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                if try closesAfterComma(UInt8(ascii: "]")) { return closeArray(from: base) }
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return closeArray(from: base)
            } else {
                throw error("expected ',' or ']' in array", at: index)
            }
        }
    }

    private mutating func closeArray(from base: Int) -> JSONValue {
        let array = Array(elements[base...])
        elements.removeSubrange(base...)
        return .array(array)
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        let open = index
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return try decodeUTF8(raw, at: start)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in string", at: index) }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string", at: open) }
        // Slow path: unescape into a byte buffer.
        var out: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                let result = out.withUnsafeBufferPointer { raw in
                    Result { () throws(JSONParseError) in try decodeUTF8(raw, at: start) }
                }
                return try result.get()
            }
            if byte < 0x20 { throw error("control character in string", at: index) }
            if byte != UInt8(ascii: "\\") {
                out.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate in \\u escape", at: index) }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate in \\u escape", at: index - 4) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate in \\u escape", at: index - 4)
                }
                appendUTF8(scalar, to: &out)
            default:
                throw error("invalid escape \\\(describe(escape))", at: index - 1)
            }
        }
        throw error("unterminated string", at: open)
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("truncated \\u escape", at: index) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape", at: index)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (scalar >> 6)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (scalar >> 12)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (scalar >> 18)))
            out.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    private func decodeUTF8(_ raw: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        // ASCII is the common case and needs no validation beyond the check itself.
        var ascii = true
        for byte in raw where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: raw, as: UTF8.self) }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw error("invalid UTF-8 in string", at: offset)
        }
        return string
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("leading zero in number", at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected digits after '.'", at: index) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected digits in exponent", at: index) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if isInteger, let value = parseInt64(text) { return .int(value) }
        // Beyond Int64, or not held exactly by a Double: kept as written (never an error or null).
        return JSONValue.classify(number: String(decoding: text, as: UTF8.self), isInteger: isInteger)
    }

    private func parseInt64(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        // At most 18 digits can never overflow; longer ones go through the checked path.
        var negative = false
        var i = 0
        if text[0] == UInt8(ascii: "-") { negative = true; i = 1 }
        var value: Int64 = 0
        if text.count - i <= 18 {
            while i < text.count {
                value = value * 10 + Int64(text[i] - UInt8(ascii: "0"))
                i += 1
            }
            return negative ? -value : value
        }
        while i < text.count {
            let digit = Int64(text[i] - UInt8(ascii: "0"))
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
            i += 1
        }
        return value
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    private func error(_ reason: String, at offset: Int) -> JSONParseError {
        var reason = reason
        if !options.contains(.comments), offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "/"),
           bytes[offset + 1] == UInt8(ascii: "/") || bytes[offset + 1] == UInt8(ascii: "*") {
            reason += " (comments are not allowed in JSON)"
        }
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        for i in 0..<end where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Columns count characters, not bytes: skip UTF-8 continuation bytes.
        var column = 1
        for i in lineStart..<end where bytes[i] & 0xC0 != 0x80 { column += 1 }
        return JSONParseError(reason: reason, offset: offset, line: line, column: column)
    }
}
