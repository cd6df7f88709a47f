extension JMESPath {
    enum TokenKind: Equatable, Sendable {
        case unquotedIdentifier, quotedIdentifier, number, literal
        case dot, star, flatten, filter, leftBracket, rightBracket, leftBrace, rightBrace
        case leftParen, rightParen, comma, colon, pipe, or, and, not
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
        case current, expressionReference, end

        /// How the token reads in an error message.
        var spelling: String {
            switch self {
            case .unquotedIdentifier, .quotedIdentifier: "an identifier"
            case .number: "a number"
            case .literal: "a literal"
            case .dot: "'.'"
            case .star: "'*'"
            case .flatten: "'[]'"
            case .filter: "'[?'"
            case .leftBracket: "'['"
            case .rightBracket: "']'"
            case .leftBrace: "'{'"
            case .rightBrace: "'}'"
            case .leftParen: "'('"
            case .rightParen: "')'"
            case .comma: "','"
            case .colon: "':'"
            case .pipe: "'|'"
            case .or: "'||'"
            case .and: "'&&'"
            case .not: "'!'"
            case .equal: "'=='"
            case .notEqual: "'!='"
            case .less: "'<'"
            case .lessOrEqual: "'<='"
            case .greater: "'>'"
            case .greaterOrEqual: "'>='"
            case .current: "'@'"
            case .expressionReference: "'&'"
            case .end: "the end of the expression"
            }
        }
    }

    struct Token: Sendable {
        var kind: TokenKind
        /// Identifier name, or the source text of the token for error messages.
        var text: String
        var number: Int = 0
        var value: JSONValue = .null
        /// 0-based offset in Unicode scalars.
        var start: Int

        var description: String {
            switch kind {
            case .unquotedIdentifier, .quotedIdentifier, .number, .literal: "'\(text)'"
            default: kind.spelling
            }
        }
    }

    /// Splits an expression into tokens. Offsets count Unicode scalars so columns match what a
    /// user sees for non-ASCII identifiers.
    struct Lexer {
        private let scalars: [Unicode.Scalar]
        private var position = 0

        init(_ source: String) {
            scalars = Array(source.unicodeScalars)
        }

        static func tokenize(_ source: String) throws(JMESPathError) -> [Token] {
            var lexer = Lexer(source)
            var tokens: [Token] = []
            while true {
                let token = try lexer.next()
                tokens.append(token)
                if token.kind == .end { return tokens }
            }
        }

        private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            let i = position + offset
            return i < scalars.count ? scalars[i] : nil
        }

        private func text(_ range: Range<Int>) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            return String(s)
        }

        private func error(_ message: String, at offset: Int) -> JMESPathError {
            JMESPathError(.syntax, message, column: offset + 1)
        }

        mutating func next() throws(JMESPathError) -> Token {
            while let c = peek(), c == " " || c == "\t" || c == "\n" || c == "\r" { position += 1 }
            let start = position
            guard let c = peek() else { return Token(kind: .end, text: "", start: start) }

            func simple(_ kind: TokenKind, length: Int) -> Token {
                position += length
                return Token(kind: kind, text: text(start..<position), start: start)
            }

            switch c {
            case ".": return simple(.dot, length: 1)
            case "*": return simple(.star, length: 1)
            case "]": return simple(.rightBracket, length: 1)
            case "{": return simple(.leftBrace, length: 1)
            case "}": return simple(.rightBrace, length: 1)
            case "(": return simple(.leftParen, length: 1)
            case ")": return simple(.rightParen, length: 1)
            case ",": return simple(.comma, length: 1)
            case ":": return simple(.colon, length: 1)
            case "@": return simple(.current, length: 1)
            case "[":
                if peek(1) == "]" { return simple(.flatten, length: 2) }
                if peek(1) == "?" { return simple(.filter, length: 2) }
                return simple(.leftBracket, length: 1)
            case "|": return peek(1) == "|" ? simple(.or, length: 2) : simple(.pipe, length: 1)
            case "&": return peek(1) == "&" ? simple(.and, length: 2) : simple(.expressionReference, length: 1)
            case "!": return peek(1) == "=" ? simple(.notEqual, length: 2) : simple(.not, length: 1)
            case "<": return peek(1) == "=" ? simple(.lessOrEqual, length: 2) : simple(.less, length: 1)
            case ">": return peek(1) == "=" ? simple(.greaterOrEqual, length: 2) : simple(.greater, length: 1)
            case "=":
                if peek(1) == "=" { return simple(.equal, length: 2) }
                throw error("expected '==' but found a single '='", at: start)
            case "a"..."z", "A"..."Z", "_":
                while let d = peek(), Self.isIdentifierPart(d) { position += 1 }
                return Token(kind: .unquotedIdentifier, text: text(start..<position), start: start)
            case "0"..."9", "-":
                return try number(start)
            case "\"":
                return try quotedIdentifier(start)
            case "'":
                let value = try consume(until: "'", start: start, unescapingDelimiter: true)
                return Token(kind: .literal, text: text(start..<position), value: .string(value), start: start)
            case "`":
                return try jsonLiteral(start)
            default:
                throw error("unexpected character '\(c.escaped(asASCII: false))'", at: start)
            }
        }

        private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "_": true
            default: false
            }
        }

        private mutating func number(_ start: Int) throws(JMESPathError) -> Token {
            if peek() == "-" { position += 1 }
            let digitsStart = position
            while let d = peek(), ("0"..."9").contains(d) { position += 1 }
            guard position > digitsStart else { throw error("expected digits after '-'", at: start) }
            let spelled = text(start..<position)
            guard let value = Int(spelled) else { throw error("number \(spelled) is too large", at: start) }
            return Token(kind: .number, text: spelled, number: value, start: start)
        }

        /// Reads up to the closing `delimiter` and returns the text between the delimiters. Backslash
        /// escapes are kept as written (the caller decides what they mean), except that an escaped
        /// delimiter becomes the bare delimiter when `unescapingDelimiter` is set.
        private mutating func consume(
            until delimiter: Unicode.Scalar, start: Int, unescapingDelimiter: Bool = false
        ) throws(JMESPathError) -> String {
            position += 1
            var out = String.UnicodeScalarView()
            while true {
                guard let c = peek() else {
                    throw error("unterminated \(delimiter) (no closing \(delimiter))", at: start)
                }
                if c == delimiter { position += 1; return String(out) }
                if c == "\\" {
                    position += 1
                    guard let escaped = peek() else {
                        throw error("unterminated \(delimiter) (no closing \(delimiter))", at: start)
                    }
                    if !(unescapingDelimiter && escaped == delimiter) { out.append(c) }
                    out.append(escaped)
                    position += 1
                    continue
                }
                out.append(c)
                position += 1
            }
        }

        private mutating func quotedIdentifier(_ start: Int) throws(JMESPathError) -> Token {
            let raw = try consume(until: "\"", start: start)
            guard case .string(let name)? = try? JSONValue(parsing: "\"" + raw + "\"") else {
                throw error("invalid quoted identifier \"\(raw)\" (it must be a JSON string)", at: start)
            }
            return Token(kind: .quotedIdentifier, text: name, start: start)
        }

        private mutating func jsonLiteral(_ start: Int) throws(JMESPathError) -> Token {
            let raw = try consume(until: "`", start: start, unescapingDelimiter: true)
            let spelled = text(start..<position)
            if let value = try? JSONValue(parsing: raw) {
                return Token(kind: .literal, text: spelled, value: value, start: start)
            }
            // Deprecated form from before JEP-12: an unquoted string between backticks.
            var trimmed = Substring(raw)
            while let first = trimmed.unicodeScalars.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
                trimmed = trimmed.dropFirst()
            }
            if case .string(let s)? = try? JSONValue(parsing: "\"" + trimmed + "\"") {
                return Token(kind: .literal, text: spelled, value: .string(s), start: start)
            }
            throw error("invalid JSON in literal \(spelled)", at: start)
        }
    }
}
