/// Recursive-descent parser for the RFC 9535 grammar (appendix A), including the function
/// extension type rules of section 2.4.3, so ill-typed queries fail at compile time.
struct RFCParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var depth = 0
    /// Bounds nesting of filters, parentheses and function calls against hostile input.
    static let maximumDepth = 64
    /// RFC 9535 2.1: integers are limited to the I-JSON exact range.
    static let maximumInteger = 9_007_199_254_740_991

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    mutating func parseQuery() throws(JSONPathError) -> RFCFilterQuery {
        guard current == "$" else { throw error("a query starts with '$'") }
        position += 1
        let segments = try parseSegments()
        if position < scalars.count {
            throw error("unexpected '\(Self.printable(scalars[position]))' after the query")
        }
        return RFCFilterQuery(isRelative: false, segments: segments)
    }

    // MARK: - Scanning

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func peek(_ offset: Int) -> Unicode.Scalar? {
        position + offset < scalars.count ? scalars[position + offset] : nil
    }

    private func error(_ message: String, at offset: Int? = nil) -> JSONPathError {
        JSONPathError(message, column: (offset ?? position) + 1)
    }

    private static func printable(_ s: Unicode.Scalar) -> String {
        s.value < 0x20 ? "\\u{\(String(s.value, radix: 16))}" : String(s)
    }

    private static func isBlank(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r"
    }

    private mutating func skipBlanks() {
        while let c = current, Self.isBlank(c) { position += 1 }
    }

    private mutating func expect(_ s: Unicode.Scalar, _ what: String) throws(JSONPathError) {
        guard current == s else {
            if let c = current { throw error("expected \(what), found '\(Self.printable(c))'") }
            throw error("expected \(what), found the end of the query")
        }
        position += 1
    }

    private mutating func enter() throws(JSONPathError) {
        depth += 1
        if depth > Self.maximumDepth { throw error("expression nested deeper than \(Self.maximumDepth) levels") }
    }

    private static func isNameFirst(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
            || (v >= 0x80 && v <= 0xD7FF) || v >= 0xE000
    }

    private static func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 0x30 && s.value <= 0x39 }

    // MARK: - Segments and selectors

    private mutating func parseSegments() throws(JSONPathError) -> [RFCSegment] {
        var segments: [RFCSegment] = []
        while true {
            let save = position
            skipBlanks()
            guard let c = current, c == "." || c == "[" else {
                position = save
                return segments
            }
            segments.append(try parseSegment())
        }
    }

    private mutating func parseSegment() throws(JSONPathError) -> RFCSegment {
        if current == "[" {
            return RFCSegment(isDescendant: false, selectors: try parseBracketedSelection())
        }
        position += 1  // '.'
        if current == "." {
            position += 1
            switch current {
            case "[":
                return RFCSegment(isDescendant: true, selectors: try parseBracketedSelection())
            case "*":
                position += 1
                return RFCSegment(isDescendant: true, selectors: [.wildcard])
            case let c? where Self.isNameFirst(c):
                return RFCSegment(isDescendant: true, selectors: [.name(parseShorthandName())])
            default:
                throw error("expected a name, '*' or '[' after '..'")
            }
        }
        switch current {
        case "*":
            position += 1
            return RFCSegment(isDescendant: false, selectors: [.wildcard])
        case let c? where Self.isNameFirst(c):
            return RFCSegment(isDescendant: false, selectors: [.name(parseShorthandName())])
        default:
            throw error("expected a member name or '*' after '.' (use ['...'] for other names)")
        }
    }

    private mutating func parseShorthandName() -> String {
        var name = String.UnicodeScalarView()
        while let c = current, Self.isNameFirst(c) || Self.isDigit(c) {
            name.append(c)
            position += 1
        }
        return String(name)
    }

    private mutating func parseBracketedSelection() throws(JSONPathError) -> [RFCSelector] {
        position += 1  // '['
        var selectors: [RFCSelector] = []
        while true {
            skipBlanks()
            selectors.append(try parseSelector())
            skipBlanks()
            if current == "," {
                position += 1
                continue
            }
            try expect("]", "',' or ']'")
            return selectors
        }
    }

    private mutating func parseSelector() throws(JSONPathError) -> RFCSelector {
        guard let c = current else { throw error("expected a selector, found the end of the query") }
        switch c {
        case "'", "\"":
            return .name(try parseStringLiteral())
        case "*":
            position += 1
            return .wildcard
        case "?":
            position += 1
            skipBlanks()
            try enter()
            defer { depth -= 1 }
            return .filter(try parseOr(first: nil))
        case ":", "-":
            return try parseIndexOrSlice()
        default:
            if Self.isDigit(c) { return try parseIndexOrSlice() }
            throw error("expected a selector (name, index, slice, '*' or '?'), found '\(Self.printable(c))'")
        }
    }

    private mutating func parseIndexOrSlice() throws(JSONPathError) -> RFCSelector {
        var start: Int?
        if current != ":" {
            start = try parseInteger()
            let save = position
            skipBlanks()
            if current != ":" {
                position = save
                return .index(start ?? 0)
            }
        }
        position += 1  // ':'
        skipBlanks()
        var end: Int?
        var step: Int?
        if let c = current, c == "-" || Self.isDigit(c) {
            end = try parseInteger()
            skipBlanks()
        }
        if current == ":" {
            position += 1
            skipBlanks()
            if let c = current, c == "-" || Self.isDigit(c) {
                step = try parseInteger()
            }
        }
        return .slice(start: start, end: end, step: step)
    }

    private mutating func parseInteger() throws(JSONPathError) -> Int {
        let start = position
        var negative = false
        if current == "-" {
            negative = true
            position += 1
        }
        guard let first = current, Self.isDigit(first) else { throw error("expected a digit") }
        if first == "0" {
            position += 1
            if negative { throw error("'-0' is not a valid index", at: start) }
            if let c = current, Self.isDigit(c) { throw error("leading zeros are not allowed", at: start) }
            return 0
        }
        var value = 0
        while let c = current, Self.isDigit(c) {
            value = value * 10 + Int(c.value - 0x30)
            if value > Self.maximumInteger {
                throw error("integer outside the range ±(2^53-1)", at: start)
            }
            position += 1
        }
        return negative ? -value : value
    }

    // MARK: - Literals

    private mutating func parseStringLiteral() throws(JSONPathError) -> String {
        let start = position
        guard let quote = current else { throw error("expected a string") }
        position += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = current else { throw error("unterminated string", at: start) }
            position += 1
            if c == quote { return String(out) }
            if c == "\\" {
                let escapeStart = position - 1
                guard let e = current else { throw error("unterminated string", at: start) }
                position += 1
                switch e {
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "/": out.append("/")
                case "\\": out.append("\\")
                case "u": out.append(try parseUnicodeEscape(start: escapeStart))
                default:
                    if e == quote { out.append(e) } else {
                        throw error("invalid escape '\\\(Self.printable(e))' in a string", at: escapeStart)
                    }
                }
                continue
            }
            if c.value < 0x20 {
                throw error("control character U+\(String(c.value, radix: 16)) must be escaped in a string", at: position - 1)
            }
            out.append(c)
        }
    }

    private mutating func parseHex4(start: Int) throws(JSONPathError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = current, let d = c.hexDigitValue else {
                throw error("'\\u' needs four hex digits", at: start)
            }
            value = value << 4 | UInt32(d)
            position += 1
        }
        return value
    }

    private mutating func parseUnicodeEscape(start: Int) throws(JSONPathError) -> Unicode.Scalar {
        let high = try parseHex4(start: start)
        if high >= 0xDC00 && high <= 0xDFFF {
            throw error("lone low surrogate in '\\u' escape", at: start)
        }
        if high >= 0xD800 && high <= 0xDBFF {
            guard current == "\\", peek(1) == "u" else {
                throw error("high surrogate must be followed by a '\\u' low surrogate", at: start)
            }
            position += 2
            let low = try parseHex4(start: start)
            guard low >= 0xDC00 && low <= 0xDFFF else {
                throw error("high surrogate must be followed by a low surrogate", at: start)
            }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw error("invalid escape", at: start) }
            return scalar
        }
        guard let scalar = Unicode.Scalar(high) else { throw error("invalid escape", at: start) }
        return scalar
    }

    private mutating func parseNumber() throws(JSONPathError) -> JSONValue {
        let start = position
        var text = ""
        var isInteger = true
        if current == "-" {
            text.append("-")
            position += 1
        }
        guard let first = current, Self.isDigit(first) else { throw error("expected a digit", at: position) }
        if first == "0" {
            text.append("0")
            position += 1
            if let c = current, Self.isDigit(c) { throw error("leading zeros are not allowed", at: start) }
        } else {
            while let c = current, Self.isDigit(c) {
                text.unicodeScalars.append(c)
                position += 1
            }
        }
        if current == "." {
            isInteger = false
            text.append(".")
            position += 1
            guard let c = current, Self.isDigit(c) else { throw error("expected a digit after '.'") }
            while let c = current, Self.isDigit(c) {
                text.unicodeScalars.append(c)
                position += 1
            }
        }
        if current == "e" || current == "E" {
            isInteger = false
            text.append("e")
            position += 1
            if let c = current, c == "+" || c == "-" {
                text.unicodeScalars.append(c)
                position += 1
            }
            guard let c = current, Self.isDigit(c) else { throw error("expected a digit in the exponent") }
            while let c = current, Self.isDigit(c) {
                text.unicodeScalars.append(c)
                position += 1
            }
        }
        if isInteger, text != "-0", let i = Int64(text) { return .int(i) }
        // A literal no Int64 or Double holds exactly compares exactly, as the data's numbers do.
        if let kept = JSONValue(numberText: text), case .exactNumber = kept { return kept }
        guard let d = Double(text) else { throw error("invalid number", at: start) }
        return .double(d)
    }

    /// A literal if one starts here (string, number, true, false, null).
    private mutating func parseLiteralIfPresent() throws(JSONPathError) -> JSONValue? {
        guard let c = current else { return nil }
        if c == "'" || c == "\"" { return .string(try parseStringLiteral()) }
        if c == "-" || Self.isDigit(c) { return try parseNumber() }
        for (word, value) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null)] {
            if matchesWord(word) {
                position += word.unicodeScalars.count
                return value
            }
        }
        return nil
    }

    private func matchesWord(_ word: String) -> Bool {
        var p = position
        for s in word.unicodeScalars {
            guard p < scalars.count, scalars[p] == s else { return false }
            p += 1
        }
        // `true` followed by a name character would be a function name such as `trueish(`.
        if p < scalars.count {
            let next = scalars[p]
            if (next.value >= 0x61 && next.value <= 0x7A) || Self.isDigit(next) || next == "_" { return false }
        }
        return true
    }

    // MARK: - Logical expressions

    /// A query, function call or literal: what may stand on either side of a comparison or be a test.
    private enum Primary {
        case query(RFCFilterQuery)
        case function(RFCFunctionCall)
        case literal(JSONValue)
    }

    private mutating func parseOr(first: RFCLogical?) throws(JSONPathError) -> RFCLogical {
        var operands = [try parseAnd(first: first)]
        while true {
            let save = position
            skipBlanks()
            guard current == "|", peek(1) == "|" else {
                position = save
                break
            }
            position += 2
            skipBlanks()
            operands.append(try parseAnd(first: nil))
        }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    private mutating func parseAnd(first: RFCLogical?) throws(JSONPathError) -> RFCLogical {
        var operands: [RFCLogical]
        if let first { operands = [first] } else { operands = [try parseBasic()] }
        while true {
            let save = position
            skipBlanks()
            guard current == "&", peek(1) == "&" else {
                position = save
                break
            }
            position += 2
            skipBlanks()
            operands.append(try parseBasic())
        }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    private mutating func parseBasic() throws(JSONPathError) -> RFCLogical {
        if current == "!" {
            let start = position
            position += 1
            skipBlanks()
            if current == "(" { return .not(try parseParenthesized()) }
            let primary = try parsePrimary()
            return .not(try test(primary, at: start))
        }
        if current == "(" { return try parseParenthesized() }
        let start = position
        let primary = try parsePrimary()
        return try finishBasic(primary, at: start)
    }

    private mutating func parseParenthesized() throws(JSONPathError) -> RFCLogical {
        try enter()
        defer { depth -= 1 }
        position += 1  // '('
        skipBlanks()
        let inner = try parseOr(first: nil)
        skipBlanks()
        try expect(")", "')'")
        return inner
    }

    /// A comparison if an operator follows, else a test expression.
    private mutating func finishBasic(_ primary: Primary, at start: Int) throws(JSONPathError) -> RFCLogical {
        let save = position
        skipBlanks()
        if let op = parseComparisonOperator() {
            let left = try comparable(primary, at: start)
            skipBlanks()
            let rightStart = position
            let right = try comparable(try parsePrimary(), at: rightStart)
            return .comparison(left, op, right)
        }
        position = save
        return try test(primary, at: start)
    }

    private mutating func parseComparisonOperator() -> RFCComparisonOperator? {
        guard let c = current else { return nil }
        let next = peek(1)
        switch (c, next) {
        case ("=", "="): position += 2; return .equal
        case ("!", "="): position += 2; return .notEqual
        case ("<", "="): position += 2; return .lessOrEqual
        case (">", "="): position += 2; return .greaterOrEqual
        case ("<", _): position += 1; return .less
        case (">", _): position += 1; return .greater
        default: return nil
        }
    }

    private func comparable(_ primary: Primary, at start: Int) throws(JSONPathError) -> RFCComparable {
        switch primary {
        case .literal(let v):
            return .literal(v)
        case .query(let q):
            guard q.singular != nil else {
                throw error("only singular queries (names and indexes) can be compared", at: start)
            }
            return .query(q)
        case .function(let f):
            guard !f.function.returnsLogical else {
                throw error("\(f.function.rawValue)() returns a logical value and cannot be compared", at: start)
            }
            return .function(f)
        }
    }

    private func test(_ primary: Primary, at start: Int) throws(JSONPathError) -> RFCLogical {
        switch primary {
        case .literal:
            throw error("a literal is not a test; compare it with something", at: start)
        case .query(let q):
            return .exists(q)
        case .function(let f):
            guard f.function.returnsLogical else {
                throw error("\(f.function.rawValue)() returns a value; compare it instead of testing it", at: start)
            }
            return .function(f)
        }
    }

    private mutating func parsePrimary() throws(JSONPathError) -> Primary {
        guard let c = current else { throw error("expected an expression, found the end of the query") }
        if c == "@" || c == "$" {
            position += 1
            let segments = try parseSegments()
            return .query(RFCFilterQuery(isRelative: c == "@", segments: segments))
        }
        if let literal = try parseLiteralIfPresent() { return .literal(literal) }
        if c.value >= 0x61 && c.value <= 0x7A { return .function(try parseFunctionCall()) }
        throw error("expected '@', '$', a literal or a function, found '\(Self.printable(c))'")
    }

    // MARK: - Functions

    private mutating func parseFunctionCall() throws(JSONPathError) -> RFCFunctionCall {
        let start = position
        var name = String.UnicodeScalarView()
        while let c = current, (c.value >= 0x61 && c.value <= 0x7A) || Self.isDigit(c) || c == "_" {
            name.append(c)
            position += 1
        }
        let nameText = String(name)
        guard current == "(" else { throw error("expected '(' after function name '\(nameText)'") }
        guard let function = RFCFunction(rawValue: nameText) else {
            throw error("unknown function '\(nameText)'", at: start)
        }
        try enter()
        defer { depth -= 1 }
        position += 1
        skipBlanks()
        var arguments: [RFCArgument] = []
        if current != ")" {
            while true {
                let argumentStart = position
                let argument = try parseArgument()
                let index = arguments.count
                guard index < function.parameters.count else {
                    throw error("\(nameText)() takes \(function.parameters.count) argument(s)", at: argumentStart)
                }
                try check(argument, against: function.parameters[index], of: nameText, at: argumentStart)
                arguments.append(argument)
                skipBlanks()
                if current == "," {
                    position += 1
                    skipBlanks()
                    continue
                }
                break
            }
        }
        try expect(")", "',' or ')'")
        guard arguments.count == function.parameters.count else {
            throw error("\(nameText)() takes \(function.parameters.count) argument(s), got \(arguments.count)", at: start)
        }
        var call = RFCFunctionCall(function: function, arguments: arguments, literalPattern: nil)
        if function.returnsLogical, case .literal(.string(let pattern)) = arguments[1] {
            if let regex = try? Regex(pattern, syntax: .iRegexp) {
                call.literalPattern = .valid(regex)
            } else {
                call.literalPattern = .invalid
            }
        }
        return call
    }

    private mutating func parseArgument() throws(JSONPathError) -> RFCArgument {
        if current == "!" || current == "(" { return .logical(try parseOr(first: nil)) }
        let start = position
        let primary = try parsePrimary()
        let save = position
        skipBlanks()
        if current == "," || current == ")" {
            position = save
            switch primary {
            case .literal(let v): return .literal(v)
            case .query(let q): return .query(q)
            case .function(let f): return .function(f)
            }
        }
        position = save
        let first = try finishBasic(primary, at: start)
        return .logical(try parseOr(first: first))
    }

    /// RFC 9535 2.4.3 well-typedness of one argument.
    private func check(
        _ argument: RFCArgument, against parameter: RFCFunction.ParameterType, of name: String, at start: Int
    ) throws(JSONPathError) {
        let ok: Bool
        switch (parameter, argument) {
        case (.value, .literal): ok = true
        case (.value, .query(let q)): ok = q.singular != nil
        case (.value, .function(let f)): ok = !f.function.returnsLogical
        case (.value, .logical): ok = false
        case (.nodes, .query): ok = true
        case (.nodes, _): ok = false
        case (.logical, .logical), (.logical, .query): ok = true
        case (.logical, .function(let f)): ok = f.function.returnsLogical
        case (.logical, .literal): ok = false
        }
        guard ok else {
            let expected = switch parameter {
            case .value: "a value (literal, singular query or value function)"
            case .nodes: "a query"
            case .logical: "a logical expression"
            }
            throw error("argument of \(name)() must be \(expected)", at: start)
        }
    }
}
