extension StringProtocol {
    /// Without leading and trailing spaces and tabs (header values, configuration scalars, HL7
    /// fields); other whitespace is content.
    package var trimmingSpaces: String {
        trimming(where: { $0 == " " || $0 == "\t" })
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace and line breaks (a key file's line, a base64
    /// signature, a header line), as Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)`
    /// without linking Foundation.
    package var trimmingWhitespace: String {
        trimming(where: \.isWhitespace)
    }
}

extension StringProtocol {
    /// Without leading and trailing characters from `characters` (quotes around a value).
    package func trimming(_ characters: Set<Character>) -> String {
        trimming(where: characters.contains)
    }

    /// Without the leading and trailing characters that `isTrimmed` accepts.
    package func trimming(where isTrimmed: (Character) -> Bool) -> String {
        var slice = Substring(self)
        while let first = slice.first, isTrimmed(first) { slice = slice.dropFirst() }
        while let last = slice.last, isTrimmed(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

/// `%XX` escapes and `+` of an HTML form body (`application/x-www-form-urlencoded`).
package enum FormDecoding {
    /// The text of one field; nil when an escape is malformed or the bytes are not UTF-8.
    package static func decode(_ part: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = part.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
