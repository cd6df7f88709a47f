extension JMESPath {
    /// A Pratt (top-down operator precedence) parser producing `Node`s, following the grammar and
    /// binding powers of the JMESPath specification and its reference implementation.
    ///
    /// Recursion is bounded by `maximumDepth`, and the recursive functions (`expression`, `nud`,
    /// `led`) only dispatch: the work sits in small helpers so each level costs little stack.
    struct Parser {
        /// Deepest syntax tree accepted. Real expressions nest a handful of levels (chains such as
        /// `a.b.c` and `a | b` are flat and do not count); the cap keeps hostile input such as
        /// `((((...` from exhausting the stack while parsing or evaluating.
        static let maximumDepth = 64

        /// A node and the height of its tree, so depth is checked without walking the tree.
        struct Parsed {
            var node: Node
            var depth: Int

            static let identity = Parsed(node: .identity, depth: 1)
        }

        private let tokens: [Token]
        /// Token kinds on their own: the parser inspects them constantly and they are cheap to copy.
        private let kinds: [TokenKind]
        private var index = 0
        private let functions: JMESPathFunctions
        private var recursion = 0

        init(_ source: String, functions: JMESPathFunctions) throws(JMESPathError) {
            self.tokens = try Lexer.tokenize(source)
            self.kinds = tokens.map(\.kind)
            self.functions = functions
        }

        mutating func parse() throws(JMESPathError) -> Node {
            let result = try expression(0)
            guard currentKind == .end else {
                throw error("unexpected \(tokens[index].description) after a complete expression", at: index)
            }
            return result.node
        }

        // MARK: - Tokens

        private var currentKind: TokenKind { kinds[index] }

        private func lookahead(_ offset: Int) -> TokenKind {
            let i = index + offset
            return i < kinds.count ? kinds[i] : .end
        }

        private mutating func advance() {
            if index < kinds.count - 1 { index += 1 }
        }

        private mutating func match(_ kind: TokenKind) throws(JMESPathError) {
            guard currentKind == kind else {
                throw error("expected \(kind.spelling) but found \(tokens[index].description)", at: index)
            }
            advance()
        }

        private func error(_ message: String, at tokenIndex: Int) -> JMESPathError {
            JMESPathError(.syntax, message, column: tokens[tokenIndex].start + 1)
        }

        private func unexpected(_ what: String, at tokenIndex: Int) -> JMESPathError {
            error("\(what) but found \(tokens[tokenIndex].description)", at: tokenIndex)
        }

        private func make(_ node: Node, _ children: Parsed...) throws(JMESPathError) -> Parsed {
            var depth = 1
            for child in children where child.depth + 1 > depth { depth = child.depth + 1 }
            guard depth <= Self.maximumDepth else { throw tooDeep() }
            return Parsed(node: node, depth: depth)
        }

        private func tooDeep() -> JMESPathError {
            error("expression is nested more than \(Self.maximumDepth) levels deep", at: index)
        }

        /// `left` then `right`, appended in place when `left` already is a chain (so long chains
        /// build in linear time).
        private func chain(_ left: inout Parsed, _ right: Parsed) throws(JMESPathError) {
            guard case .chain(var steps) = left.node else {
                left = try make(.chain([left.node, right.node]), left, right)
                return
            }
            left.node = .identity  // releases the old tree's hold on `steps`, so appending does not copy
            steps.append(right.node)
            left = try make(.chain(steps), Parsed(node: .identity, depth: left.depth - 1), right)
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
            guard recursion <= Self.maximumDepth else { throw tooDeep() }
            let start = index
            advance()
            var left = try nud(start)
            while rightBindingPower < Self.bindingPower(currentKind) {
                let operatorIndex = index
                advance()
                try led(operatorIndex, &left)
            }
            return left
        }

        /// A token at the start of an expression.
        private mutating func nud(_ at: Int) throws(JMESPathError) -> Parsed {
            switch kinds[at] {
            case .literal: return try make(.literal(tokens[at].value))
            case .unquotedIdentifier: return try make(.field(tokens[at].text))
            case .quotedIdentifier: return try quotedIdentifier(at)
            case .current: return .identity
            case .star: return try objectProjection(.identity, rightBindingPower: Self.bindingPower(.star))
            case .filter: return try filter(.identity)
            case .leftBrace: return try multiSelectHash()
            case .leftParen: return try parenthesized()
            case .flatten: return try flatten(.identity)
            case .not: return try not()
            case .leftBracket: return try bracket()
            case .expressionReference: return try expressionReference()
            default: throw unexpected("expected an expression", at: at)
            }
        }

        /// A token after a complete left operand.
        private mutating func led(_ at: Int, _ left: inout Parsed) throws(JMESPathError) {
            switch kinds[at] {
            case .dot: try dot(&left)
            case .pipe: try chain(&left, try expression(Self.bindingPower(.pipe)))
            case .or: left = try binary(left, .or)
            case .and: left = try binary(left, .and)
            case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: left = try comparison(left, kinds[at])
            case .leftParen: left = try functionCall(left, open: at)
            case .filter: left = try filter(left)
            case .flatten: left = try flatten(left)
            case .leftBracket: try bracket(after: &left)
            default: throw error("unexpected \(tokens[at].description)", at: at)
            }
        }

        // MARK: - Constructs

        private mutating func quotedIdentifier(_ at: Int) throws(JMESPathError) -> Parsed {
            if currentKind == .leftParen {
                throw error("a quoted identifier cannot be a function name", at: at)
            }
            return try make(.field(tokens[at].text))
        }

        private mutating func parenthesized() throws(JMESPathError) -> Parsed {
            let inner = try expression(0)
            try match(.rightParen)
            return inner
        }

        private mutating func not() throws(JMESPathError) -> Parsed {
            let operand = try expression(Self.bindingPower(.not))
            return try make(.not(operand.node), operand)
        }

        private mutating func expressionReference() throws(JMESPathError) -> Parsed {
            let referenced = try expression(0)
            return try make(.expressionReference(referenced.node), referenced)
        }

        private mutating func objectProjection(_ left: Parsed, rightBindingPower: Int) throws(JMESPathError) -> Parsed {
            let right = currentKind == .rightBracket ? Parsed.identity : try projectionRight(rightBindingPower)
            return try make(.objectProjection(left.node, right.node), left, right)
        }

        private mutating func flatten(_ left: Parsed) throws(JMESPathError) -> Parsed {
            let flattened = try make(.flatten(left.node), left)
            let right = try projectionRight(Self.bindingPower(.flatten))
            return try make(.listProjection(flattened.node, right.node), flattened, right)
        }

        private mutating func dot(_ left: inout Parsed) throws(JMESPathError) {
            if currentKind == .star {
                advance()
                left = try objectProjection(left, rightBindingPower: Self.bindingPower(.dot))
            } else {
                try chain(&left, try dotRight(Self.bindingPower(.dot)))
            }
        }

        private mutating func binary(_ left: Parsed, _ kind: TokenKind) throws(JMESPathError) -> Parsed {
            let right = try expression(Self.bindingPower(kind))
            let node: Node = kind == .or ? .or(left.node, right.node) : .and(left.node, right.node)
            return try make(node, left, right)
        }

        private mutating func comparison(_ left: Parsed, _ kind: TokenKind) throws(JMESPathError) -> Parsed {
            let comparator: Comparator = switch kind {
            case .equal: .equal
            case .notEqual: .notEqual
            case .less: .less
            case .lessOrEqual: .lessOrEqual
            case .greater: .greater
            default: .greaterOrEqual
            }
            let right = try expression(Self.bindingPower(kind))
            return try make(.comparison(comparator, left.node, right.node), left, right)
        }

        /// `[` at the start of an expression: index, slice, `[*]` or a multi-select list.
        private mutating func bracket() throws(JMESPathError) -> Parsed {
            if currentKind == .number || currentKind == .colon {
                var indexed = Parsed.identity
                try projectIfSlice(&indexed, try indexOrSlice())
                return indexed
            }
            if currentKind == .star && lookahead(1) == .rightBracket {
                advance()
                advance()
                let right = try projectionRight(Self.bindingPower(.star))
                return try make(.listProjection(.identity, right.node), right)
            }
            return try multiSelectList()
        }

        /// `[` after an operand: index, slice or `[*]`.
        private mutating func bracket(after left: inout Parsed) throws(JMESPathError) {
            if currentKind == .number || currentKind == .colon {
                try projectIfSlice(&left, try indexOrSlice())
                return
            }
            try match(.star)
            try match(.rightBracket)
            let right = try projectionRight(Self.bindingPower(.star))
            left = try make(.listProjection(left.node, right.node), left, right)
        }

        private mutating func functionCall(_ left: Parsed, open: Int) throws(JMESPathError) -> Parsed {
            // The name is the token before '(' and must be a plain identifier.
            let nameIndex = open - 1
            guard case .field(let name) = left.node, nameIndex >= 0, kinds[nameIndex] == .unquotedIdentifier else {
                throw error("only a function name can be called with '('", at: open)
            }
            var arguments: [Node] = []
            var depth = 0
            if currentKind != .rightParen {
                while true {
                    let argument = try expression(0)
                    arguments.append(argument.node)
                    depth = max(depth, argument.depth)
                    if currentKind == .comma {
                        advance()
                    } else if currentKind == .rightParen {
                        break
                    } else {
                        throw unexpected("expected ',' or ')' in the arguments of \(name)()", at: index)
                    }
                }
            }
            try match(.rightParen)
            let column = tokens[nameIndex].start + 1
            guard let function = functions.lookup(name) else {
                throw JMESPathError(.unknownFunction, "unknown function \(name)()", column: column)
            }
            if let problem = function.arityProblem(arguments.count) {
                throw JMESPathError(.invalidArity, problem, column: column)
            }
            return try make(.function(function, arguments), Parsed(node: .identity, depth: depth))
        }

        private mutating func filter(_ left: Parsed) throws(JMESPathError) -> Parsed {
            let condition = try expression(0)
            try match(.rightBracket)
            let right = currentKind == .flatten ? Parsed.identity : try projectionRight(Self.bindingPower(.filter))
            return try make(.filterProjection(left.node, condition: condition.node, right.node), left, condition, right)
        }

        /// After `[`: either `number]` or a slice `start:stop:step]` with every part optional.
        private mutating func indexOrSlice() throws(JMESPathError) -> Parsed {
            if currentKind == .number && lookahead(1) != .colon {
                let number = tokens[index].number
                advance()
                try match(.rightBracket)
                return try make(.index(number))
            }
            var parts: [Int?] = [nil, nil, nil]
            var part = 0
            while currentKind != .rightBracket {
                if currentKind == .colon {
                    part += 1
                    if part == 3 { throw error("a slice has at most three parts", at: index) }
                    advance()
                } else if currentKind == .number && parts[part] == nil {
                    parts[part] = tokens[index].number
                    advance()
                } else {
                    throw unexpected("expected a number, ':' or ']' in a slice", at: index)
                }
            }
            advance()
            return try make(.slice(start: parts[0], stop: parts[1], step: parts[2]))
        }

        /// Applies an index or slice to `left`; a slice starts a projection.
        private mutating func projectIfSlice(_ left: inout Parsed, _ selector: Parsed) throws(JMESPathError) {
            if case .identity = left.node {
                left = selector
            } else {
                try chain(&left, selector)
            }
            guard case .slice = selector.node else { return }
            let right = try projectionRight(Self.bindingPower(.star))
            left = try make(.listProjection(left.node, right.node), left, right)
        }

        /// What runs on each element of a projection: nothing (stop), a bracket, a filter or `.rhs`.
        private mutating func projectionRight(_ bindingPower: Int) throws(JMESPathError) -> Parsed {
            if Self.bindingPower(currentKind) < Self.projectionStop { return .identity }
            switch currentKind {
            case .leftBracket, .filter:
                return try expression(bindingPower)
            case .dot:
                advance()
                return try dotRight(bindingPower)
            default:
                throw error("unexpected \(tokens[index].description) after a projection", at: index)
            }
        }

        private mutating func dotRight(_ bindingPower: Int) throws(JMESPathError) -> Parsed {
            switch currentKind {
            case .unquotedIdentifier, .quotedIdentifier, .star:
                return try expression(bindingPower)
            case .leftBracket:
                advance()
                return try multiSelectList()
            case .leftBrace:
                advance()
                return try multiSelectHash()
            default:
                throw unexpected("expected an identifier, '*', '[' or '{' after '.'", at: index)
            }
        }

        private mutating func multiSelectList() throws(JMESPathError) -> Parsed {
            var elements: [Node] = []
            var depth = 0
            while true {
                let element = try expression(0)
                elements.append(element.node)
                depth = max(depth, element.depth)
                if currentKind == .rightBracket { break }
                guard currentKind == .comma else {
                    throw unexpected("expected ',' or ']' in a multi-select list", at: index)
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
                guard currentKind == .unquotedIdentifier || currentKind == .quotedIdentifier else {
                    throw unexpected("expected a key name in a multi-select hash", at: index)
                }
                keys.append(tokens[index].text)
                advance()
                try match(.colon)
                let value = try expression(0)
                values.append(value.node)
                depth = max(depth, value.depth)
                if currentKind == .rightBrace { break }
                guard currentKind == .comma else {
                    throw unexpected("expected ',' or '}' in a multi-select hash", at: index)
                }
                advance()
            }
            advance()
            return try make(.multiSelectHash(keys: keys, values: values), Parsed(node: .identity, depth: depth))
        }
    }
}
