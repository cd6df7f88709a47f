/// Evaluates Json.NET paths the way `JToken.SelectTokens` does: each filter maps the current
/// node list to the next, in document order, without removing duplicates.
struct NetEvaluator {
    let root: JSONValue

    func select<L: NodeLocation>(_ path: NetPath, from start: JSONValue, at location: L) throws(JSONPathError) -> [LocatedNode<L>] {
        var nodes = [LocatedNode(value: start, location: location)]
        var next: [LocatedNode<L>] = []
        for filter in path.filters {
            next.removeAll(keepingCapacity: true)
            try apply(filter, to: nodes, into: &next)
            swap(&nodes, &next)
        }
        return nodes
    }

    private func apply<L: NodeLocation>(
        _ filter: NetFilter, to nodes: [LocatedNode<L>], into out: inout [LocatedNode<L>]
    ) throws(JSONPathError) {
        switch filter {
        case .field(let name):
            for node in nodes {
                guard case .object(let object) = node.value else { continue }
                if let name {
                    if let i = object.exactIndex(of: name) {
                        out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: name)))
                    }
                } else {
                    for i in object.keys.indices {
                        out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: object.keys[i])))
                    }
                }
            }
        case .fields(let names):
            for node in nodes {
                guard case .object(let object) = node.value else { continue }
                for name in names {
                    if let i = object.exactIndex(of: name) {
                        out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: name)))
                    }
                }
            }
        case .scan(let name):
            for node in nodes {
                if name == nil { out.append(node) }
                try scanDescendants(of: node) { key, child in
                    if let name {
                        if let key, key.unicodeScalars.elementsEqual(name.unicodeScalars) { out.append(child) }
                    } else {
                        out.append(child)
                    }
                }
            }
        case .scanFields(let names):
            for node in nodes {
                try scanDescendants(of: node) { key, child in
                    guard let key else { return }
                    for name in names where key.unicodeScalars.elementsEqual(name.unicodeScalars) {
                        out.append(child)
                    }
                }
            }
        case .index(let index):
            for node in nodes {
                guard case .array(let elements) = node.value else { continue }
                if let element = try Self.element(index, of: elements, at: node.location) { out.append(element) }
            }
        case .indexes(let indexes):
            for node in nodes {
                guard case .array(let elements) = node.value else { continue }
                for index in indexes {
                    if let element = try Self.element(index, of: elements, at: node.location) { out.append(element) }
                }
            }
        case .elements:
            for node in nodes {
                guard case .array(let elements) = node.value else { continue }
                for (i, element) in elements.enumerated() {
                    out.append(LocatedNode(value: element, location: node.location.appending(index: i)))
                }
            }
        case .slice(let start, let end, let step):
            if step == 0 { throw JSONPathError("slice step cannot be zero") }
            for node in nodes {
                guard case .array(let elements) = node.value else { continue }
                Self.forEachSliceIndex(count: elements.count, start: start, end: end, step: step) { i in
                    out.append(LocatedNode(value: elements[i], location: node.location.appending(index: i)))
                }
            }
        case .query(let expression):
            for node in nodes {
                // On objects Json.NET tests the member (property) tokens, which never match.
                guard case .array(let elements) = node.value else { continue }
                for (i, element) in elements.enumerated() where try matches(expression, element) {
                    out.append(LocatedNode(value: element, location: node.location.appending(index: i)))
                }
            }
        case .scanQuery(let expression):
            for node in nodes {
                if try matches(expression, node.value) { out.append(node) }
                try scanDescendants(of: node) { (_, child) throws(JSONPathError) in
                    if try matches(expression, child.value) { out.append(child) }
                }
            }
        }
    }

    private static func element<L: NodeLocation>(
        _ index: Int, of elements: [JSONValue], at location: L
    ) throws(JSONPathError) -> LocatedNode<L>? {
        if index < 0 {
            throw JSONPathError("index \(index) is negative; Json.NET paths do not count from the end (use a slice like [\(index):])")
        }
        guard index < elements.count else { return nil }
        return LocatedNode(value: elements[index], location: location.appending(index: index))
    }

    /// Visits every descendant of `node` in document order (pre-order), with the member name
    /// when the descendant is an object member. Uses an explicit stack.
    private func scanDescendants<L: NodeLocation>(
        of node: LocatedNode<L>, _ visit: (String?, LocatedNode<L>) throws(JSONPathError) -> Void
    ) throws(JSONPathError) {
        var stack: [(String?, LocatedNode<L>)] = []
        func pushChildren(_ parent: LocatedNode<L>) {
            switch parent.value {
            case .array(let elements):
                for i in elements.indices.reversed() {
                    stack.append((nil, LocatedNode(value: elements[i], location: parent.location.appending(index: i))))
                }
            case .object(let object):
                for i in object.keys.indices.reversed() {
                    let key = object.keys[i]
                    stack.append((key, LocatedNode(value: object.values[i], location: parent.location.appending(name: key))))
                }
            default:
                break
            }
        }
        pushChildren(node)
        while let (key, child) = stack.popLast() {
            try visit(key, child)
            pushChildren(child)
        }
    }

    /// `..[?(@names)]`: the start node and each descendant, in document order (pre-order), for
    /// which the member walk `names` finds a value (a present `null` counts), as `scanQuery` with
    /// that one existence test selects them. False, with `out` incomplete, for a document nested
    /// deeper than parsed ones can be: recursion is kept for what the parser admits, and the
    /// caller then takes the general evaluator with its explicit stack.
    static func scanExists(_ names: [String], in node: JSONValue, into out: inout [JSONValue], depth: Int = 0) -> Bool {
        guard depth <= JSONParser.maximumDepth else { return false }
        var value = node
        var found = true
        for name in names {
            guard case .object(let object) = value, let i = object.exactIndex(of: name) else {
                found = false
                break
            }
            value = object.values[i]
        }
        if found { out.append(node) }
        switch node {
        case .array(let elements):
            for element in elements where !scanExists(names, in: element, into: &out, depth: depth + 1) { return false }
        case .object(let object):
            for child in object.values where !scanExists(names, in: child, into: &out, depth: depth + 1) { return false }
        default:
            break
        }
        return true
    }

    /// Json.NET `ArraySliceFilter` bounds.
    static func forEachSliceIndex(count: Int, start: Int?, end: Int?, step: Int?, _ body: (Int) -> Void) {
        let step = step ?? 1
        let positive = step > 0
        var startIndex = start ?? (positive ? 0 : count - 1)
        var stopIndex = end ?? (positive ? count : -1)
        if let start, start < 0 { startIndex = count + startIndex }
        if let end, end < 0 { stopIndex = count + stopIndex }
        startIndex = max(startIndex, positive ? 0 : Int.min)
        startIndex = min(startIndex, positive ? count : count - 1)
        stopIndex = max(stopIndex, -1)
        stopIndex = min(stopIndex, count)
        var i = startIndex
        while positive ? i < stopIndex : i > stopIndex {
            if i >= 0 && i < count { body(i) }
            i += step
        }
    }

    // MARK: - Filter expressions

    private func matches(_ expression: NetExpression, _ current: JSONValue) throws(JSONPathError) -> Bool {
        switch expression {
        case .and(let items):
            for item in items where !(try matches(item, current)) { return false }
            return true
        case .or(let items):
            for item in items where try matches(item, current) { return true }
            return false
        case .boolean(let left, let op, let right):
            // Fast path for the common shapes (`@a.b`, `@a.b == 'x'`): no node lists.
            switch (simpleValue(left, current), right.map { simpleValue($0, current) }) {
            case (.some(let l), .none) where op == .exists:
                if case .some = l { return true }
                return false
            case (.some(let l), .some(.some(let r))):
                guard let l, let r else { return false }
                return Self.matchTokens(l, op, r)
            default:
                break
            }
            if op == .exists {
                return try !results(left, current).isEmpty
            }
            let leftValues = try results(left, current)
            guard !leftValues.isEmpty, let right else { return false }
            if case .pattern(let regex) = right {
                for value in leftValues {
                    if case .string(let s) = value, regex.matchesAnywhere(s) { return true }
                }
                return false
            }
            let rightValues = try results(right, current)
            for l in leftValues {
                for r in rightValues where Self.matchTokens(l, op, r) { return true }
            }
            return false
        }
    }

    /// The operand's single value when it is a literal or a names-only path: `.some(nil)` when
    /// the path selects nothing, nil when the operand needs full evaluation.
    private func simpleValue(_ operand: NetOperand, _ current: JSONValue) -> JSONValue?? {
        switch operand {
        case .literal(let value):
            return .some(value)
        case .pattern:
            return nil
        case .path(let path, let fromRoot):
            guard let names = path.simpleNames else { return nil }
            var value = fromRoot ? root : current
            for name in names {
                guard case .object(let object) = value, let i = object.exactIndex(of: name) else { return .some(.none) }
                value = object.values[i]
            }
            return .some(value)
        }
    }

    private func results(_ operand: NetOperand, _ current: JSONValue) throws(JSONPathError) -> [JSONValue] {
        switch operand {
        case .literal(let value):
            return [value]
        case .pattern:
            return []
        case .path(let path, let fromRoot):
            let start = fromRoot ? root : current
            if let names = path.simpleNames {
                var value = start
                for name in names {
                    guard case .object(let object) = value, let i = object.exactIndex(of: name) else { return [] }
                    value = object.values[i]
                }
                return [value]
            }
            return try select(path, from: start, at: NoLocation()).map(\.value)
        }
    }

    private static func isPrimitive(_ v: JSONValue) -> Bool {
        switch v {
        case .array, .object: false
        default: true
        }
    }

    /// Json.NET `BooleanQueryExpression.MatchTokens`.
    static func matchTokens(_ left: JSONValue, _ op: NetOperator, _ right: JSONValue) -> Bool {
        guard isPrimitive(left), isPrimitive(right) else {
            return op == .exists || op == .notEquals
        }
        switch op {
        case .exists: return true
        case .equals, .strictEquals: return primitiveEqual(left, right)
        case .notEquals, .strictNotEquals: return !primitiveEqual(left, right)
        case .regexEquals:
            // A pattern that comes from the document is compiled per use; literals are compiled at parse time.
            guard case .string(let text) = left, case .string(let source) = right,
                  case .success(let regex) = NetParser.regex(fromLiteral: source)
            else { return false }
            return regex.matchesAnywhere(text)
        case .lessThan: return compare(left, right).map { $0 < 0 } ?? false
        case .lessThanOrEquals: return compare(left, right).map { $0 <= 0 } ?? false
        case .greaterThan: return compare(left, right).map { $0 > 0 } ?? false
        case .greaterThanOrEquals: return compare(left, right).map { $0 >= 0 } ?? false
        }
    }

    /// Same type and value; integers and floats compare numerically.
    private static func primitiveEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return x.utf16.elementsEqual(y.utf16)
        case _ where a.isNumber && b.isNumber: return RFCEvaluator.numericOrder(a, b) == 0
        default: return false
        }
    }

    /// Json.NET `JValue.Compare` for the JSON types: null sorts first, numbers numerically,
    /// strings by UTF-16 code unit (ordinal), booleans false < true; other mixes do not compare.
    private static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        switch (a, b) {
        case (.null, .null): return 0
        case (.null, _): return -1
        case (_, .null): return 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.string(let x), .string(let y)):
            if x.utf16.elementsEqual(y.utf16) { return 0 }
            return x.utf16.lexicographicallyPrecedes(y.utf16) ? -1 : 1
        case _ where a.isNumber && b.isNumber: return RFCEvaluator.numericOrder(a, b)
        default: return nil
        }
    }
}
