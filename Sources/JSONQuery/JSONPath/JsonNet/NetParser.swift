/// Parser for Json.NET's `SelectToken` syntax, following the structure of its `JPath` class
/// (`ParseMain`, `ParsePath`, `ParseIndexer`, `ParseExpression`) so that quirks match: names run
/// until `. [ ( ] )` or a space, `$` is optional, numbers in filters end at a space or `)`, and
/// `a && b || c` groups as `a && (b || c)`.
struct NetParser {
    private let scalars: [Unicode.Scalar]
    private var position = 0
    private var depth = 0
    static let maximumDepth = 64

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
    }

    mutating func parseMain() throws(JSONPathError) -> NetPath {
        var filters: [NetFilter] = []
        var partStart = position
        eatWhitespace()
        guard position < scalars.count else { return NetPath(filters: []) }
        if scalars[position] == "$" {
            if scalars.count == 1 { return NetPath(filters: []) }
            // Only "$." and "$[" start at the root; "$foo" is a member named "$foo".
            if position + 1 < scalars.count, scalars[position + 1] == "." || scalars[position + 1] == "[" {
                position += 1
                partStart = position
            }
        }
        if !(try parsePath(&filters, partStart: partStart, query: false)) {
            let last = position
            eatWhitespace()
            if position < scalars.count {
                throw error("unexpected '\(Self.printable(scalars[last]))' while parsing the path", at: last)
            }
        }
        return NetPath(filters: filters)
    }

    // MARK: - Scanning

    private var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    private func error(_ message: String, at offset: Int? = nil) -> JSONPathError {
        JSONPathError(message, column: min(offset ?? position, scalars.count) + 1)
    }

    private static func printable(_ s: Unicode.Scalar) -> String {
        s.value < 0x20 ? "\\u{\(String(s.value, radix: 16))}" : String(s)
    }

    private mutating func eatWhitespace() {
        while position < scalars.count, scalars[position] == " " { position += 1 }
    }

    private func ensureMore(_ message: String) throws(JSONPathError) {
        if position >= scalars.count { throw error(message) }
    }

    private func text(_ from: Int, _ to: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[from..<to])
        return String(view)
    }

    private func startsWith(_ word: String) -> Bool {
        var p = position
        for s in word.unicodeScalars {
            guard p < scalars.count, scalars[p] == s else { return false }
            p += 1
        }
        return true
    }

    private mutating func match(_ word: String) -> Bool {
        guard startsWith(word) else { return false }
        position += word.unicodeScalars.count
        return true
    }

    private static func isQueryOperatorStart(_ c: Unicode.Scalar) -> Bool {
        c == "=" || c == "<" || c == "!" || c == ">" || c == "|" || c == "&"
    }

    // MARK: - Paths

    private func pathFilter(_ member: String, scan: Bool) -> NetFilter {
        let name: String? = member == "*" ? nil : member
        return scan ? .scan(name) : .field(name)
    }

    /// Returns true when the path ran to the end of the expression.
    private mutating func parsePath(_ filters: inout [NetFilter], partStart: Int, query: Bool) throws(JSONPathError) -> Bool {
        var partStart = partStart
        var scan = false
        var followingIndexer = false
        var followingDot = false
        var ended = false
        while position < scalars.count && !ended {
            let c = scalars[position]
            switch c {
            case "[", "(":
                if position > partStart {
                    filters.append(pathFilter(text(partStart, position), scan: scan))
                    scan = false
                }
                filters.append(try parseIndexer(open: c, scan: scan))
                scan = false
                position += 1
                partStart = position
                followingIndexer = true
                followingDot = false
            case "]", ")":
                ended = true
            case " ":
                ended = true
            case ".":
                if position > partStart {
                    filters.append(pathFilter(text(partStart, position), scan: scan))
                    scan = false
                }
                if position + 1 < scalars.count, scalars[position + 1] == "." {
                    scan = true
                    position += 1
                }
                position += 1
                partStart = position
                followingIndexer = false
                followingDot = true
            default:
                if query && Self.isQueryOperatorStart(c) {
                    ended = true
                } else {
                    if followingIndexer {
                        throw error("unexpected '\(Self.printable(c))' after an indexer; expected '.' or '['")
                    }
                    position += 1
                }
            }
        }
        let atEnd = position == scalars.count
        if position > partStart {
            var end = position
            while end > partStart, scalars[end - 1] == " " { end -= 1 }
            filters.append(pathFilter(text(partStart, end), scan: scan))
        } else if followingDot && (atEnd || query) {
            throw error("path ends after '.'; expected a member name")
        }
        return atEnd
    }

    private mutating func parseIndexer(open: Unicode.Scalar, scan: Bool) throws(JSONPathError) -> NetFilter {
        position += 1
        let close: Unicode.Scalar = open == "[" ? "]" : ")"
        try ensureMore("path ends inside an open indexer")
        eatWhitespace()
        try ensureMore("path ends inside an open indexer")
        switch scalars[position] {
        case "'": return try parseQuotedField(close: close, scan: scan)
        case "?": return try parseQuery(close: close, scan: scan)
        default: return try parseArrayIndexer(close: close)
        }
    }

    private mutating func parseQuotedField(close: Unicode.Scalar, scan: Bool) throws(JSONPathError) -> NetFilter {
        var fields: [String] = []
        while position < scalars.count {
            let field = try readQuotedString()
            eatWhitespace()
            try ensureMore("path ends inside an open indexer")
            if scalars[position] == close {
                if fields.isEmpty {
                    return scan ? .scan(field) : .field(field)
                }
                fields.append(field)
                return scan ? .scanFields(fields) : .fields(fields)
            } else if scalars[position] == "," {
                position += 1
                eatWhitespace()
                fields.append(field)
                guard current == "'" else {
                    throw error("a list of names holds quoted names only; indexes and names cannot be mixed")
                }
            } else {
                throw error("unexpected '\(Self.printable(scalars[position]))' in an indexer; expected ',' or '\(close)'")
            }
        }
        throw error("path ends inside an open indexer")
    }

    private mutating func readQuotedString() throws(JSONPathError) -> String {
        let start = position
        position += 1  // opening quote
        var out = String.UnicodeScalarView()
        while position < scalars.count {
            let c = scalars[position]
            if c == "\\" && position + 1 < scalars.count {
                position += 1
                switch scalars[position] {
                case "b": out.append("\u{08}")
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "f": out.append("\u{0C}")
                case "r": out.append("\r")
                case "\\", "\"", "'", "/": out.append(scalars[position])
                default:
                    throw error("unknown escape '\\\(Self.printable(scalars[position]))' in a string", at: position - 1)
                }
                position += 1
            } else if c == "'" {
                position += 1
                return String(out)
            } else {
                out.append(c)
                position += 1
            }
        }
        throw error("path ends inside an open string", at: start)
    }

    private mutating func parseInt32(_ from: Int, _ to: Int) throws(JSONPathError) -> Int {
        guard let value = Int32(text(from, to)) else {
            throw error("'\(text(from, to))' is not a valid array index", at: from)
        }
        return Int(value)
    }

    private mutating func parseArrayIndexer(close: Unicode.Scalar) throws(JSONPathError) -> NetFilter {
        var start = position
        var end: Int?
        var indexes: [Int]?
        var colonCount = 0
        var startIndex: Int?
        var endIndex: Int?
        var step: Int?
        while position < scalars.count {
            let c = scalars[position]
            if c == " " {
                end = position
                eatWhitespace()
                continue
            }
            if c == close {
                let length = (end ?? position) - start
                if indexes != nil {
                    if length == 0 { throw error("array index expected") }
                    indexes?.append(try parseInt32(start, start + length))
                    return .indexes(indexes ?? [])
                } else if colonCount > 0 {
                    if length > 0 {
                        let value = try parseInt32(start, start + length)
                        if colonCount == 1 { endIndex = value } else { step = value }
                    }
                    return .slice(start: startIndex, end: endIndex, step: step)
                } else {
                    if length == 0 { throw error("array index expected") }
                    return .index(try parseInt32(start, start + length))
                }
            } else if c == "," {
                let length = (end ?? position) - start
                if length == 0 { throw error("array index expected") }
                if colonCount > 0 { throw error("slices cannot appear in a list of indexes") }
                var list = indexes ?? []
                list.append(try parseInt32(start, start + length))
                indexes = list
                position += 1
                eatWhitespace()
                start = position
                end = nil
            } else if c == "*" {
                position += 1
                try ensureMore("path ends inside an open indexer")
                eatWhitespace()
                try ensureMore("path ends inside an open indexer")
                guard scalars[position] == close, indexes == nil, colonCount == 0, position - 1 >= start else {
                    throw error("unexpected '*' in an indexer; '[*]' stands alone", at: position - 1)
                }
                return .elements
            } else if c == ":" {
                if indexes != nil { throw error("slices cannot appear in a list of indexes") }
                let length = (end ?? position) - start
                if length > 0 {
                    let value = try parseInt32(start, start + length)
                    switch colonCount {
                    case 0: startIndex = value
                    case 1: endIndex = value
                    default: step = value
                    }
                }
                colonCount += 1
                if colonCount > 2 { throw error("a slice has at most two ':'") }
                position += 1
                eatWhitespace()
                start = position
                end = nil
            } else if !(c.asciiDigit != nil || c == "-") {
                throw error("unexpected '\(Self.printable(c))' in an indexer")
            } else {
                if end != nil { throw error("unexpected '\(Self.printable(c))' in an indexer") }
                position += 1
            }
        }
        throw error("path ends inside an open indexer")
    }

    // MARK: - Filters

    private mutating func parseQuery(close: Unicode.Scalar, scan: Bool) throws(JSONPathError) -> NetFilter {
        position += 1  // '?'
        try ensureMore("path ends inside an open indexer")
        guard scalars[position] == "(" else {
            throw error("a filter is written '[?(...)]'; expected '(' after '?'")
        }
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { throw error("filters nested deeper than \(Self.maximumDepth) levels") }
        position += 1
        let expression = try parseExpression()
        position += 1  // ')'
        try ensureMore("path ends inside an open indexer")
        eatWhitespace()
        try ensureMore("path ends inside an open indexer")
        guard scalars[position] == close else {
            throw error("unexpected '\(Self.printable(scalars[position]))' after a filter; expected '\(close)'")
        }
        return scan ? .scanQuery(expression) : .query(expression)
    }

    /// Json.NET builds `&&`/`||` chains without precedence: a new composite opens whenever the
    /// operator changes and nests inside the previous one.
    private mutating func parseExpression() throws(JSONPathError) -> NetExpression {
        var chain: [Composite] = []  // open composites, outermost first
        while position < scalars.count {
            let left = try parseSide(isRightOfRegex: false)
            var right: NetOperand?
            let op: NetOperator
            let c = scalars[position]
            if c == ")" || c == "|" || c == "&" {
                op = .exists
            } else {
                op = try parseOperator()
                right = try parseSide(isRightOfRegex: op == .regexEquals)
            }
            let boolean = NetExpression.boolean(left, op, right)
            if scalars[position] == ")" {
                guard !chain.isEmpty else { return boolean }
                chain[chain.count - 1].items.append(boolean)
                return Self.build(chain)
            }
            let isAnd: Bool
            if scalars[position] == "&" {
                guard match("&&") else { throw error("expected '&&'") }
                isAnd = true
            } else if scalars[position] == "|" {
                guard match("||") else { throw error("expected '||'") }
                isAnd = false
            } else {
                throw error("unexpected '\(Self.printable(scalars[position]))' in a filter; expected an operator, '&&', '||' or ')'")
            }
            if chain.last?.isAnd != isAnd {
                chain.append(Composite(isAnd: isAnd, items: []))
            }
            chain[chain.count - 1].items.append(boolean)
        }
        throw error("path ends inside an open filter")
    }

    private struct Composite {
        var isAnd: Bool
        var items: [NetExpression]
    }

    /// Folds the open composites: each one is the last item of the one before it.
    private static func build(_ chain: [Composite]) -> NetExpression {
        var inner: NetExpression?
        for composite in chain.reversed() {
            var items = composite.items
            if let inner { items.append(inner) }
            inner = composite.isAnd ? .and(items) : .or(items)
        }
        return inner ?? .and([])
    }

    private mutating func parseOperator() throws(JSONPathError) -> NetOperator {
        if position + 1 >= scalars.count { throw error("path ends inside an open filter") }
        let start = position
        if match("===") { return .strictEquals }
        if match("==") { return .equals }
        if match("=~") { return .regexEquals }
        if match("!==") { return .strictNotEquals }
        if match("!=") || match("<>") { return .notEquals }
        if match("<=") { return .lessThanOrEquals }
        if match("<") { return .lessThan }
        if match(">=") { return .greaterThanOrEquals }
        if match(">") { return .greaterThan }
        throw error("unknown operator; expected one of == != <> < <= > >= === !== =~", at: start)
    }

    private mutating func parseSide(isRightOfRegex: Bool) throws(JSONPathError) -> NetOperand {
        eatWhitespace()
        try ensureMore("path ends inside an open filter")
        let start = position
        let c = scalars[position]
        if c == "$" || c == "@" {
            position += 1
            var filters: [NetFilter] = []
            if try parsePath(&filters, partStart: position, query: true) {
                throw error("path ends inside an open filter")
            }
            eatWhitespace()
            try ensureMore("path ends inside an open filter")
            return .path(NetPath(filters: filters), fromRoot: c == "$")
        }
        let value: JSONValue
        if c == "'" {
            value = .string(try readQuotedString())
        } else if c.asciiDigit != nil || c == "-" {
            value = try readNumber()
        } else if match("true") {
            value = .bool(true)
        } else if match("false") {
            value = .bool(false)
        } else if match("null") {
            value = .null
        } else if c == "/" {
            let source = try readRegex()
            eatWhitespace()
            try ensureMore("path ends inside an open filter")
            if isRightOfRegex { return .pattern(try compileRegex(source, at: start)) }
            return .literal(.string(source))
        } else {
            throw error("unexpected '\(Self.printable(c))' in a filter; expected '@', '$' or a literal")
        }
        eatWhitespace()
        try ensureMore("path ends inside an open filter")
        if isRightOfRegex {
            guard case .string(let source) = value else { return .literal(value) }
            return .pattern(try compileRegex(source, at: start))
        }
        return .literal(value)
    }

    /// A number runs to the next space or ')', as in Json.NET.
    private mutating func readNumber() throws(JSONPathError) -> JSONValue {
        let start = position
        while position < scalars.count, scalars[position] != " ", scalars[position] != ")" {
            position += 1
        }
        let literal = text(start, position)
        guard position < scalars.count else { throw error("path ends inside an open filter") }
        // Beyond Int64 or a Double's digits (a 20-digit id): kept exactly, as the data's numbers are.
        if let kept = JSONValue(numberText: literal), case .exactNumber = kept { return kept }
        if literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            if let d = Double(literal), d.isFinite { return .double(d) }
        } else if let i = Int64(literal) {
            return .int(i)
        }
        throw error("'\(literal)' is not a number (a number in a filter ends at a space or ')')", at: start)
    }

    /// `/pattern/flags`, returned verbatim.
    private mutating func readRegex() throws(JSONPathError) -> String {
        let start = position
        position += 1
        while position < scalars.count {
            let c = scalars[position]
            if c == "\\" && position + 1 < scalars.count {
                position += 2
            } else if c == "/" {
                position += 1
                while position < scalars.count, scalars[position].properties.isAlphabetic { position += 1 }
                return text(start, position)
            } else {
                position += 1
            }
        }
        throw error("path ends inside an open regex", at: start)
    }

    private func compileRegex(_ source: String, at start: Int) throws(JSONPathError) -> Regex {
        switch Self.regex(fromLiteral: source) {
        case .success(let regex):
            return regex
        case .failure(let failure):
            throw error(failure.message, at: start + failure.offset)
        }
    }

    /// Compiles a Json.NET `/pattern/flags` literal; a failure's offset is within `source`.
    static func regex(fromLiteral source: String) -> Result<Regex, RegexError> {
        let view = Array(source.unicodeScalars)
        guard view.first == "/", let close = view.lastIndex(of: "/"), close > 0 else {
            return .failure(RegexError(message: "the right side of =~ must be a /pattern/flags literal", offset: 0))
        }
        var pattern = String.UnicodeScalarView()
        pattern.append(contentsOf: view[1..<close])
        var options: RegexOptions = []
        for flag in view[(close + 1)...] {
            switch flag {
            case "i": options.insert(.ignoreCase)
            case "m": options.insert(.multiline)
            case "s": options.insert(.singleline)
            case "x": options.insert(.ignoreWhitespace)
            default:
                return .failure(RegexError(message: "unknown regex flag '\(flag)'; use i, m, s or x", offset: close + 1))
            }
        }
        do {
            return .success(try Regex(String(pattern), syntax: .dotNet, options: options))
        } catch {
            return .failure(RegexError(message: "invalid regex: \(error.message)", offset: 1 + error.offset))
        }
    }
}
