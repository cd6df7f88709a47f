extension JMESPath {
    /// A Pratt (top-down operator precedence) parser producing `Node`s, following the grammar and
    /// binding powers of the JMESPath specification and its reference implementation.
    struct Parser {
        /// Deepest syntax tree accepted. Real expressions nest a handful of levels; the cap keeps
        /// hostile input (`((((...`, `a.a.a.a...`) from exhausting the stack while parsing,
        /// evaluating or releasing the tree.
        static let maximumDepth = 256

        /// A node and the height of its tree, so depth is checked without walking the tree.
        struct Parsed {
            var node: Node
            var depth: Int
        }

        private let tokens: [Token]
        private var index = 0
        private let functions: JMESPathFunctions
        private var recursion = 0

        init(_ source: String, functions: JMESPathFunctions) throws(JMESPathError) {
            self.tokens = try Lexer.tokenize(source)
            self.functions = functions
        }

        mutating func parse() throws(JMESPathError) -> Node {
            let result = try expression(0)
            guard current.kind == .end else {
                throw error("unexpected \(current.description) after a complete expression", at: current)
            }
            return result.node
        }

        // MARK: - Tokens

        private var current: Token { tokens[index] }

        private func lookahead(_ offset: Int) -> TokenKind {
            let i = index + offset
            return i < tokens.count ? tokens[i].kind : .end
        }

        private mutating func advance() {
            if index < tokens.count - 1 { index += 1 }
        }

        private mutating func match(_ kind: TokenKind) throws(JMESPathError) {
            guard current.kind == kind else {
                throw error("expected \(kind.spelling) but found \(current.description)", at: current)
            }
            advance()
        }

        private func error(_ message: String, at token: Token) -> JMESPathError {
            JMESPathError(.syntax, message, column: token.start + 1)
        }

        private func make(_ node: Node, _ children: Parsed...) throws(JMESPathError) -> Parsed {
            var depth = 1
            for child in children where child.depth + 1 > depth { depth = child.depth + 1 }
            guard depth <= Self.maximumDepth else {
                throw error("expression is nested more than \(Self.maximumDepth) levels deep", at: current)
            }
            return Parsed(node: node, depth: depth)
        }

        private static let projectionStop = 10

        private static func bindingPower(_ kind: TokenKind) -> Int {
            switch kind {
            case .pipe: 1
            case .or: 2
            case .and: 3
            case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: 5
            case .flatten: 9
            case .star: 20
            case .filter: 21
            case .dot: 40
            case .not: 45
            case .leftBrace: 50
            case .leftBracket: 55
            case .leftParen: 60
            default: 0
            }
        }

        // MARK: - Expressions

        private mutating func expression(_ rightBindingPower: Int) throws(JMESPathError) -> Parsed {
            recursion += 1
            defer { recursion -= 1 }
            guard recursion <= Self.maximumDepth else {
                throw error("expression is nested more than \(Self.maximumDepth) levels deep", at: current)
            }
            let token = current
            advance()
            var left = try nud(token)
            while rightBindingPower < Self.bindingPower(current.kind) {
                let operatorToken = current
                advance()
                left = try led(operatorToken, left)
            }
            return left
        }

        private mutating func nud(_ token: Token) throws(JMESPathError) -> Parsed {
            switch token.kind {
            case .literal:
                return try make(.literal(token.value))
            case .unquotedIdentifier:
                return try make(.field(token.text))
            case .quotedIdentifier:
                if current.kind == .leftParen {
                    throw error("a quoted identifier cannot be a function name", at: token)
                }
                return try make(.field(token.text))
            case .current:
                return try make(.identity)
            case .star:
                let right = current.kind == .rightBracket
                    ? Parsed(node: .identity, depth: 1)
                    : try projectionRight(Self.bindingPower(.star))
                return try make(.objectProjection(.identity, right.node), right)
            case .filter:
                return try filter(Parsed(node: .identity, depth: 1))
            case .leftBrace:
                return try multiSelectHash()
            case .leftParen:
                let inner = try expression(0)
                try match(.rightParen)
                return inner
            case .flatten:
                let flattened = try make(.flatten(.identity))
                let right = try projectionRight(Self.bindingPower(.flatten))
                return try make(.listProjection(flattened.node, right.node), flattened, right)
            case .not:
                let operand = try expression(Self.bindingPower(.not))
                return try make(.not(operand.node), operand)
            case .leftBracket:
                if current.kind == .number || current.kind == .colon {
                    let selector = try indexOrSlice()
                    return try projectIfSlice(Parsed(node: .identity, depth: 1), selector)
                }
                if current.kind == .star && lookahead(1) == .rightBracket {
                    advance()
                    advance()
                    let right = try projectionRight(Self.bindingPower(.star))
                    return try make(.listProjection(.identity, right.node), right)
                }
                return try multiSelectList()
            case .expressionReference:
                let referenced = try expression(0)
                return try make(.expressionReference(referenced.node), referenced)
            case .end:
                throw error("expected an expression but found the end of the expression", at: token)
            default:
                throw error("expected an expression but found \(token.description)", at: token)
            }
        }

        private mutating func led(_ token: Token, _ left: Parsed) throws(JMESPathError) -> Parsed {
            switch token.kind {
            case .dot:
                if current.kind == .star {
                    advance()
                    let right = try projectionRight(Self.bindingPower(.dot))
                    return try make(.objectProjection(left.node, right.node), left, right)
                }
                let right = try dotRight(Self.bindingPower(.dot))
                return try make(.subexpression(left.node, right.node), left, right)
            case .pipe:
                let right = try expression(Self.bindingPower(.pipe))
                return try make(.pipe(left.node, right.node), left, right)
            case .or:
                let right = try expression(Self.bindingPower(.or))
                return try make(.or(left.node, right.node), left, right)
            case .and:
                let right = try expression(Self.bindingPower(.and))
                return try make(.and(left.node, right.node), left, right)
            case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual:
                let comparator: Comparator = switch token.kind {
                case .equal: .equal
                case .notEqual: .notEqual
                case .less: .less
                case .lessOrEqual: .lessOrEqual
                case .greater: .greater
                default: .greaterOrEqual
                }
                let right = try expression(Self.bindingPower(token.kind))
                return try make(.comparison(comparator, left.node, right.node), left, right)
            case .leftParen:
                return try functionCall(left, open: token)
            case .filter:
                return try filter(left)
            case .flatten:
                let flattened = try make(.flatten(left.node), left)
                let right = try projectionRight(Self.bindingPower(.flatten))
                return try make(.listProjection(flattened.node, right.node), flattened, right)
            case .leftBracket:
                if current.kind == .number || current.kind == .colon {
                    let selector = try indexOrSlice()
                    return try projectIfSlice(left, selector)
                }
                try match(.star)
                try match(.rightBracket)
                let right = try projectionRight(Self.bindingPower(.star))
                return try make(.listProjection(left.node, right.node), left, right)
            default:
                throw error("unexpected \(token.description)", at: token)
            }
        }

        // MARK: - Pieces

        private mutating func functionCall(_ left: Parsed, open: Token) throws(JMESPathError) -> Parsed {
            // The name is the token before '(' and must be a plain identifier.
            let nameIndex = index - 2
            guard case .field(let name) = left.node, nameIndex >= 0, tokens[nameIndex].kind == .unquotedIdentifier else {
                throw error("only a function name can be called with '('", at: open)
            }
            let nameToken = tokens[nameIndex]
            var arguments: [Node] = []
            var depth = left.depth
            if current.kind != .rightParen {
                while true {
                    let argument = try expression(0)
                    arguments.append(argument.node)
                    depth = max(depth, argument.depth)
                    if current.kind == .comma {
                        advance()
                    } else if current.kind == .rightParen {
                        break
                    } else {
                        throw error("expected ',' or ')' in the arguments of \(name)() but found \(current.description)", at: current)
                    }
                }
            }
            try match(.rightParen)
            guard let function = functions.lookup(name) else {
                throw JMESPathError(.unknownFunction, "unknown function \(name)()", column: nameToken.start + 1)
            }
            if let problem = function.arityProblem(arguments.count) {
                throw JMESPathError(.invalidArity, problem, column: nameToken.start + 1)
            }
            return try make(.function(function, arguments), Parsed(node: .identity, depth: depth))
        }

        private mutating func filter(_ left: Parsed) throws(JMESPathError) -> Parsed {
            let condition = try expression(0)
            try match(.rightBracket)
            let right = current.kind == .flatten
                ? Parsed(node: .identity, depth: 1)
                : try projectionRight(Self.bindingPower(.filter))
            return try make(.filterProjection(left.node, condition: condition.node, right.node), left, condition, right)
        }

        /// After `[`: either `number]` or a slice `start:stop:step]` with every part optional.
        private mutating func indexOrSlice() throws(JMESPathError) -> Parsed {
            if current.kind == .number && lookahead(1) != .colon {
                let number = current.number
                advance()
                try match(.rightBracket)
                return try make(.index(number))
            }
            var parts: [Int?] = [nil, nil, nil]
            var part = 0
            while current.kind != .rightBracket {
                if current.kind == .colon {
                    part += 1
                    if part == 3 { throw error("a slice has at most three parts", at: current) }
                    advance()
                } else if current.kind == .number && parts[part] == nil {
                    parts[part] = current.number
                    advance()
                } else {
                    throw error("expected a number, ':' or ']' in a slice but found \(current.description)", at: current)
                }
            }
            advance()
            return try make(.slice(start: parts[0], stop: parts[1], step: parts[2]))
        }

        private mutating func projectIfSlice(_ left: Parsed, _ selector: Parsed) throws(JMESPathError) -> Parsed {
            let indexed: Parsed
            if case .identity = left.node {
                indexed = selector
            } else {
                indexed = try make(.subexpression(left.node, selector.node), left, selector)
            }
            guard case .slice = selector.node else { return indexed }
            let right = try projectionRight(Self.bindingPower(.star))
            return try make(.listProjection(indexed.node, right.node), indexed, right)
        }

        /// What runs on each element of a projection: nothing (stop), a bracket, a filter or `.rhs`.
        private mutating func projectionRight(_ bindingPower: Int) throws(JMESPathError) -> Parsed {
            switch current.kind {
            case _ where Self.bindingPower(current.kind) < Self.projectionStop:
                return Parsed(node: .identity, depth: 1)
            case .leftBracket, .filter:
                return try expression(bindingPower)
            case .dot:
                advance()
                return try dotRight(bindingPower)
            default:
                throw error("unexpected \(current.description) after a projection", at: current)
            }
        }

        private mutating func dotRight(_ bindingPower: Int) throws(JMESPathError) -> Parsed {
            switch current.kind {
            case .unquotedIdentifier, .quotedIdentifier, .star:
                return try expression(bindingPower)
            case .leftBracket:
                advance()
                return try multiSelectList()
            case .leftBrace:
                advance()
                return try multiSelectHash()
            default:
                throw error("expected an identifier, '*', '[' or '{' after '.' but found \(current.description)", at: current)
            }
        }

        private mutating func multiSelectList() throws(JMESPathError) -> Parsed {
            var elements: [Node] = []
            var depth = 0
            while true {
                let element = try expression(0)
                elements.append(element.node)
                depth = max(depth, element.depth)
                if current.kind == .rightBracket { break }
                guard current.kind == .comma else {
                    throw error("expected ',' or ']' in a multi-select list but found \(current.description)", at: current)
                }
                advance()
            }
            advance()
            return try make(.multiSelectList(elements), Parsed(node: .identity, depth: depth))
        }

        private mutating func multiSelectHash() throws(JMESPathError) -> Parsed {
            var keys: [String] = []
            var values: [Node] = []
            var depth = 0
            while true {
                guard current.kind == .unquotedIdentifier || current.kind == .quotedIdentifier else {
                    throw error("expected a key name in a multi-select hash but found \(current.description)", at: current)
                }
                keys.append(current.text)
                advance()
                try match(.colon)
                let value = try expression(0)
                values.append(value.node)
                depth = max(depth, value.depth)
                if current.kind == .rightBrace { break }
                guard current.kind == .comma else {
                    throw error("expected ',' or '}' in a multi-select hash but found \(current.description)", at: current)
                }
                advance()
            }
            advance()
            return try make(.multiSelectHash(keys: keys, values: values), Parsed(node: .identity, depth: depth))
        }
    }
}
