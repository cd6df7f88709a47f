/// Parses a regular expression into a tree. Two syntaxes share the parser:
/// - `iRegexp`: RFC 9485 I-Regexp, used by RFC 9535 `match()` and `search()`. Only what RFC 9485
///   allows is accepted, except that `^` and `$` anchor (see `parseAtom`).
/// - `dotNet`: the commonly used subset of .NET / Perl syntax that Json.NET `=~ /re/` filters use:
///   `\d \w \s \b`, anchors, lazy quantifiers, non-capturing groups and the `x` flag.
struct RegexError: Error, Sendable {
    let message: String
    /// 0-based offset in Unicode scalars from the start of the pattern.
    let offset: Int
}

enum RegexSyntax: Sendable { case iRegexp, dotNet }

struct RegexOptions: OptionSet, Sendable {
    let rawValue: UInt8
    static let ignoreCase = RegexOptions(rawValue: 1 << 0)
    static let multiline = RegexOptions(rawValue: 1 << 1)
    /// `.` also matches `\n`.
    static let singleline = RegexOptions(rawValue: 1 << 2)
    /// Whitespace and `#` comments outside classes are ignored.
    static let ignoreWhitespace = RegexOptions(rawValue: 1 << 3)
}

enum RegexAssertion: Sendable {
    case lineStart, lineEnd, textStart, textEnd, textEndOrFinalNewline, wordBoundary, notWordBoundary
}

indirect enum RegexNode: Sendable {
    case empty
    case scalar(Unicode.Scalar)
    case dot
    case set(RegexCharacterSet)
    case assertion(RegexAssertion)
    case concatenation([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?)
}

struct RegexParser {
    private let scalars: [Unicode.Scalar]
    private let syntax: RegexSyntax
    private let options: RegexOptions
    private var position = 0
    private var depth = 0
    /// Bounds group nesting so hostile patterns cannot exhaust the stack.
    static let maximumDepth = 64
    /// Bounds `{n,m}` counts; the compiler expands repetitions.
    static let maximumCount = 1000

    init(_ pattern: String, syntax: RegexSyntax, options: RegexOptions) {
        self.scalars = Array(pattern.unicodeScalars)
        self.syntax = syntax
        self.options = options
    }

    mutating func parse() throws(RegexError) -> RegexNode {
        let node = try parseAlternation()
        if position < scalars.count {
            throw RegexError(message: "unbalanced ')'", offset: position)
        }
        return node
    }

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private mutating func skipIgnoredWhitespace() {
        guard options.contains(.ignoreWhitespace) else { return }
        while let c = current {
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" {
                position += 1
            } else if c == "#" {
                while let d = current, d != "\n" { position += 1 }
            } else {
                return
            }
        }
    }

    private mutating func parseAlternation() throws(RegexError) -> RegexNode {
        var branches = [try parseConcatenation()]
        while current == "|" {
            position += 1
            branches.append(try parseConcatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func parseConcatenation() throws(RegexError) -> RegexNode {
        var items: [RegexNode] = []
        while true {
            skipIgnoredWhitespace()
            guard let c = current, c != "|", c != ")" else { break }
            let atom = try parseAtom()
            items.append(try parseQuantifiers(atom))
        }
        switch items.count {
        case 0: return .empty
        case 1: return items[0]
        default: return .concatenation(items)
        }
    }

    private mutating func parseQuantifiers(_ atom: RegexNode) throws(RegexError) -> RegexNode {
        var node = atom
        var quantified = false
        while true {
            skipIgnoredWhitespace()
            guard let c = current else { return node }
            let start = position
            var bounds: (Int, Int?)
            switch c {
            case "*": position += 1; bounds = (0, nil)
            case "+": position += 1; bounds = (1, nil)
            case "?": position += 1; bounds = (0, 1)
            case "{":
                guard let counted = try parseCountedQuantifier() else { return node }
                bounds = counted
            default:
                return node
            }
            if quantified {
                throw RegexError(message: "quantifier follows another quantifier", offset: start)
            }
            if case .assertion = node, syntax == .iRegexp {
                throw RegexError(message: "nothing to repeat", offset: start)
            }
            quantified = true
            // Laziness changes which match is found, never whether one exists.
            if syntax == .dotNet, current == "?" { position += 1 }
            node = .repetition(node, min: bounds.0, max: bounds.1)
        }
    }

    /// `{n}`, `{n,}`, `{n,m}`. In .NET syntax a `{` that does not start a quantifier is a literal
    /// (returns nil without consuming); I-Regexp rejects it.
    private mutating func parseCountedQuantifier() throws(RegexError) -> (Int, Int?)? {
        let start = position
        var p = position + 1
        func number(_ p: inout Int) -> Int? {
            var value = 0
            var digits = 0
            while p < scalars.count, let d = scalars[p].asciiDigit {
                value = min(value * 10 + d, Int(Int32.max))
                digits += 1
                p += 1
            }
            return digits > 0 ? value : nil
        }
        let low = number(&p)
        var high: Int?
        var open = false
        if p < scalars.count, scalars[p] == "," {
            p += 1
            high = number(&p)
            open = high == nil
        } else {
            high = low
        }
        guard let low, p < scalars.count, scalars[p] == "}" else {
            if syntax == .dotNet { return nil }
            throw RegexError(message: "malformed {n,m} quantifier", offset: start)
        }
        p += 1
        if let high, high < low {
            throw RegexError(message: "quantifier range {\(low),\(high)} is out of order", offset: start)
        }
        if low > Self.maximumCount || (high ?? 0) > Self.maximumCount {
            throw RegexError(message: "quantifier count above \(Self.maximumCount)", offset: start)
        }
        position = p
        return (low, open ? nil : high)
    }

    private mutating func parseAtom() throws(RegexError) -> RegexNode {
        let start = position
        guard let c = current else { return .empty }
        position += 1
        switch c {
        case "(":
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maximumDepth {
                throw RegexError(message: "groups nested deeper than \(Self.maximumDepth)", offset: start)
            }
            if syntax == .dotNet, current == "?" {
                if position + 1 < scalars.count, scalars[position + 1] == ":" {
                    position += 2
                } else {
                    throw RegexError(message: "unsupported group construct '(?'", offset: start)
                }
            }
            let inner = try parseAlternation()
            guard current == ")" else { throw RegexError(message: "missing ')'", offset: start) }
            position += 1
            return inner
        case "[":
            return .set(try parseClass(start: start))
        case ".":
            return .dot
        case "\\":
            return try parseEscape(start: start, inClass: false).node
        case "*", "+", "?":
            throw RegexError(message: "nothing to repeat before '\(c)'", offset: start)
        case "{":
            if syntax == .iRegexp { throw RegexError(message: "nothing to repeat before '{'", offset: start) }
            return .scalar(c)
        case "]", "}":
            if syntax == .iRegexp { throw RegexError(message: "unescaped '\(c)'", offset: start) }
            return .scalar(c)
        case "^":
            // RFC 9485 lists `^` and `$` as ordinary characters, but the JSONPath compliance suite
            // (and every regex engine RFC 9535 implementations map I-Regexp onto) anchors them.
            if syntax == .iRegexp { return .assertion(.textStart) }
            return .assertion(options.contains(.multiline) ? .lineStart : .textStart)
        case "$":
            if syntax == .iRegexp { return .assertion(.textEnd) }
            return .assertion(options.contains(.multiline) ? .lineEnd : .textEndOrFinalNewline)
        default:
            return .scalar(c)
        }
    }

    private enum Escaped {
        case scalar(Unicode.Scalar)
        case item(RegexCharacterSet.Item)
        case assertion(RegexAssertion)

        var node: RegexNode {
            switch self {
            case .scalar(let s): .scalar(s)
            case .item(let item): .set(RegexCharacterSet(items: [item], negated: false))
            case .assertion(let a): .assertion(a)
            }
        }
    }

    private mutating func parseEscape(start: Int, inClass: Bool) throws(RegexError) -> Escaped {
        guard let c = current else { throw RegexError(message: "pattern ends with '\\'", offset: start) }
        position += 1
        switch c {
        case "p", "P":
            return .item(try parseCategory(negated: c == "P", start: start))
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "t": return .scalar("\t")
        default: break
        }
        if syntax == .iRegexp {
            switch c {
            case "(", ")", "*", "+", "-", ".", "?", "[", "\\", "]", "^", "{", "|", "}":
                return .scalar(c)
            default:
                throw RegexError(message: "'\\\(c)' is not an I-Regexp escape", offset: start)
            }
        }
        switch c {
        case "d": return .item(.digit(negated: false))
        case "D": return .item(.digit(negated: true))
        case "w": return .item(.word(negated: false))
        case "W": return .item(.word(negated: true))
        case "s": return .item(.space(negated: false))
        case "S": return .item(.space(negated: true))
        case "f": return .scalar("\u{0C}")
        case "v": return .scalar("\u{0B}")
        case "e": return .scalar("\u{1B}")
        case "a": return .scalar("\u{07}")
        case "0": return .scalar("\u{00}")
        case "x": return .scalar(try parseHex(digits: 2, start: start))
        case "u": return .scalar(try parseHex(digits: 4, start: start))
        case "c":
            guard let letter = current, letter.isASCII, letter.properties.isAlphabetic else {
                throw RegexError(message: "'\\c' needs a letter", offset: start)
            }
            position += 1
            return .scalar(Unicode.Scalar(UInt8(letter.value & 0x1F)))
        case "b":
            // Inside a class `\b` is a backspace, as in .NET.
            return inClass ? .scalar("\u{08}") : .assertion(.wordBoundary)
        case "B" where !inClass: return .assertion(.notWordBoundary)
        case "A" where !inClass: return .assertion(.textStart)
        case "z" where !inClass: return .assertion(.textEnd)
        case "Z" where !inClass: return .assertion(.textEndOrFinalNewline)
        default:
            if c.isASCII, c.properties.isAlphabetic || c.asciiDigit != nil {
                throw RegexError(message: "unsupported escape '\\\(c)'", offset: start)
            }
            return .scalar(c)
        }
    }

    private mutating func parseHex(digits: Int, start: Int) throws(RegexError) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = current, let d = c.hexDigitValue else {
                throw RegexError(message: "expected \(digits) hex digits", offset: start)
            }
            value = value * 16 + UInt32(d)
            position += 1
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw RegexError(message: "escape is not a Unicode scalar", offset: start)
        }
        return scalar
    }

    private mutating func parseCategory(negated: Bool, start: Int) throws(RegexError) -> RegexCharacterSet.Item {
        guard current == "{" else { throw RegexError(message: "expected '{' after \\p", offset: start) }
        position += 1
        var name = ""
        while let c = current, c != "}" {
            name.unicodeScalars.append(c)
            position += 1
        }
        guard current == "}" else { throw RegexError(message: "missing '}' after \\p{", offset: start) }
        position += 1
        guard let categories = RegexCharacterSet.categories(named: name, syntax: syntax) else {
            throw RegexError(message: "unknown Unicode category '\(name)'", offset: start)
        }
        return .category(categories, negated: negated)
    }

    private mutating func parseClass(start: Int) throws(RegexError) -> RegexCharacterSet {
        var negated = false
        if current == "^" {
            negated = true
            position += 1
        }
        var items: [RegexCharacterSet.Item] = []
        var first = true
        while true {
            guard let c = current else { throw RegexError(message: "missing ']'", offset: start) }
            if c == "]" && !(first && syntax == .dotNet) {
                position += 1
                break
            }
            let itemStart = position
            position += 1
            var low: Unicode.Scalar
            switch c {
            case "\\":
                switch try parseEscape(start: itemStart, inClass: true) {
                case .scalar(let s): low = s
                case .item(let item): items.append(item); first = false; continue
                case .assertion: throw RegexError(message: "assertion inside a class", offset: itemStart)
                }
            case "[":
                if syntax == .iRegexp { throw RegexError(message: "unescaped '[' inside a class", offset: itemStart) }
                low = c
            case "-":
                // A '-' is literal only first or last in the class.
                if !first && current != "]" {
                    throw RegexError(message: "unexpected '-' inside a class", offset: itemStart)
                }
                low = c
            default:
                low = c
            }
            first = false
            if current == "-", position + 1 < scalars.count, scalars[position + 1] != "]" {
                let dash = position
                position += 1
                guard let h = current else { throw RegexError(message: "missing ']'", offset: start) }
                position += 1
                var high = h
                if h == "\\" {
                    guard case .scalar(let s) = try parseEscape(start: position - 1, inClass: true) else {
                        throw RegexError(message: "class escape cannot end a range", offset: dash)
                    }
                    high = s
                } else if h == "[" || (h == "-" && syntax == .iRegexp) {
                    throw RegexError(message: "unsupported range end '\(h)'", offset: dash)
                }
                guard low.value <= high.value else {
                    throw RegexError(message: "class range is out of order", offset: dash)
                }
                items.append(.range(low.value, high.value))
            } else {
                items.append(.range(low.value, low.value))
            }
        }
        return RegexCharacterSet(items: items, negated: negated)
    }
}

extension Unicode.Scalar {
    var asciiDigit: Int? {
        value >= 0x30 && value <= 0x39 ? Int(value - 0x30) : nil
    }

    var hexDigitValue: Int? {
        switch value {
        case 0x30...0x39: Int(value - 0x30)
        case 0x41...0x46: Int(value - 0x41 + 10)
        case 0x61...0x66: Int(value - 0x61 + 10)
        default: nil
        }
    }
}
