/// HL7 v2 escape sequences (v2.6 chapter 2.7): delimiters inside data, hexadecimal data, and the
/// formatting and character-set sequences, which are tolerated and dropped (not rendered).
package enum HL7Escaping {
    /// Resolves every escape sequence of one subcomponent.
    ///
    /// - `\F\ \S\ \T\ \R\ \E\` (and v2.7's `\P\`): the field, component, subcomponent, repetition,
    ///   escape (truncation) character.
    /// - `\Xhhhh\`: the bytes the hex digits spell (read with the rest of the text as UTF-8).
    /// - `\.br\`: a line break. Highlighting (`\H\ \N\`), other formatting (`\.sp\`, `\.in\`...),
    ///   character-set switches (`\Cxxyy\`, `\Mxxyyzz\`) and locally defined `\Z..\` are dropped.
    /// An unclosed or unknown sequence, or odd or non-hex digits after `\X`, is an error at `location`.
    package static func unescape(_ bytes: ArraySlice<UInt8>, delimiters: HL7Delimiters, at location: HL7Location) throws(HL7Error) -> String {
        guard bytes.contains(delimiters.escape) else { return text(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == delimiters.escape else {
                out.append(byte)
                index += 1
                continue
            }
            guard let close = bytes[(index + 1)...].firstIndex(of: delimiters.escape) else {
                throw HL7Error(.dataType, at: location, "an escape sequence is not closed")
            }
            let body = bytes[(index + 1)..<close]
            index = close + 1
            guard let kind = body.first else {
                throw HL7Error(.dataType, at: location, "an empty escape sequence")
            }
            switch kind {
            case UInt8(ascii: "F") where body.count == 1: out.append(delimiters.field)
            case UInt8(ascii: "S") where body.count == 1: out.append(delimiters.component)
            case UInt8(ascii: "T") where body.count == 1: out.append(delimiters.subcomponent)
            case UInt8(ascii: "R") where body.count == 1: out.append(delimiters.repetition)
            case UInt8(ascii: "E") where body.count == 1: out.append(delimiters.escape)
            case UInt8(ascii: "P") where body.count == 1:
                out.append(delimiters.truncation ?? UInt8(ascii: "#"))
            case UInt8(ascii: "H") where body.count == 1, UInt8(ascii: "N") where body.count == 1:
                break
            case UInt8(ascii: "X"):
                let digits = body.dropFirst()
                guard digits.count % 2 == 0, !digits.isEmpty else {
                    throw HL7Error(.dataType, at: location, "\\X..\\ needs an even number of hex digits")
                }
                var cursor = digits.startIndex
                while cursor < digits.endIndex {
                    guard let high = hex(digits[cursor]), let low = hex(digits[cursor + 1]) else {
                        throw HL7Error(.dataType, at: location, "\\X..\\ holds a character that is not a hex digit")
                    }
                    out.append(high << 4 | low)
                    cursor += 2
                }
            case UInt8(ascii: "."):
                if Array(body) == Array(".br".utf8) { out.append(0x0A) }
            case UInt8(ascii: "C"), UInt8(ascii: "M"), UInt8(ascii: "Z"):
                break
            default:
                throw HL7Error(.dataType, at: location, "unknown escape sequence; expected F, S, T, R, E, X, H, N, .br, C, M or Z")
            }
        }
        return text(out[...])
    }

    /// Writes `value` so that its delimiter characters survive as data (`|` as `\F\` and so on).
    package static func escape(_ value: String, delimiters: HL7Delimiters = .standard) -> String {
        var out: [UInt8] = []
        for byte in value.utf8 {
            let code: UInt8?
            switch byte {
            case delimiters.escape: code = UInt8(ascii: "E")
            case delimiters.field: code = UInt8(ascii: "F")
            case delimiters.component: code = UInt8(ascii: "S")
            case delimiters.subcomponent: code = UInt8(ascii: "T")
            case delimiters.repetition: code = UInt8(ascii: "R")
            case _ where byte == delimiters.truncation: code = UInt8(ascii: "P")
            case 0x0D, 0x0A:
                // A line end inside data would end the segment.
                out += [delimiters.escape] + Array(".br".utf8) + [delimiters.escape]
                continue
            default: code = nil
            }
            if let code {
                out += [delimiters.escape, code, delimiters.escape]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// UTF-8 when valid, else ISO 8859-1 (each byte its code point).
    static func text(_ bytes: ArraySlice<UInt8>) -> String {
        if let string = String(validating: bytes, as: UTF8.self) { return string }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}
