/// Evaluates RFC 9535 queries (section 2). Filter sub-queries run without location tracking;
/// singular ones walk the document directly instead of building node lists.
struct RFCEvaluator {
    let root: JSONValue

    func select<L: NodeLocation>(_ segments: [RFCSegment], from start: JSONValue, at location: L) -> [LocatedNode<L>] {
        var nodes = [LocatedNode(value: start, location: location)]
        var next: [LocatedNode<L>] = []
        for segment in segments {
            next.removeAll(keepingCapacity: true)
            for node in nodes {
                if segment.isDescendant {
                    selectDescendants(segment.selectors, from: node, into: &next)
                } else {
                    for selector in segment.selectors { apply(selector, to: node, into: &next) }
                }
            }
            swap(&nodes, &next)
            if nodes.isEmpty { break }
        }
        return nodes
    }

    /// Visits the node and its descendants in document order (pre-order), applying the
    /// selectors to each; an explicit stack keeps deep documents off the call stack.
    private func selectDescendants<L: NodeLocation>(
        _ selectors: [RFCSelector], from start: LocatedNode<L>, into out: inout [LocatedNode<L>]
    ) {
        var stack = [start]
        while let node = stack.popLast() {
            for selector in selectors { apply(selector, to: node, into: &out) }
            switch node.value {
            case .array(let elements):
                for i in elements.indices.reversed() {
                    stack.append(LocatedNode(value: elements[i], location: node.location.appending(index: i)))
                }
            case .object(let object):
                for i in object.keys.indices.reversed() {
                    stack.append(LocatedNode(value: object.values[i], location: node.location.appending(name: object.keys[i])))
                }
            default:
                break
            }
        }
    }

    private func apply<L: NodeLocation>(_ selector: RFCSelector, to node: LocatedNode<L>, into out: inout [LocatedNode<L>]) {
        switch selector {
        case .name(let name):
            if case .object(let object) = node.value, let i = object.exactIndex(of: name) {
                out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: name)))
            }
        case .wildcard:
            switch node.value {
            case .array(let elements):
                for (i, element) in elements.enumerated() {
                    out.append(LocatedNode(value: element, location: node.location.appending(index: i)))
                }
            case .object(let object):
                for i in object.keys.indices {
                    out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: object.keys[i])))
                }
            default:
                break
            }
        case .index(let index):
            if case .array(let elements) = node.value {
                let i = index < 0 ? elements.count + index : index
                if i >= 0 && i < elements.count {
                    out.append(LocatedNode(value: elements[i], location: node.location.appending(index: i)))
                }
            }
        case .slice(let start, let end, let step):
            if case .array(let elements) = node.value {
                Self.forEachSliceIndex(count: elements.count, start: start, end: end, step: step) { i in
                    out.append(LocatedNode(value: elements[i], location: node.location.appending(index: i)))
                }
            }
        case .filter(let expression):
            switch node.value {
            case .array(let elements):
                for (i, element) in elements.enumerated() where test(expression, current: element) {
                    out.append(LocatedNode(value: element, location: node.location.appending(index: i)))
                }
            case .object(let object):
                for i in object.keys.indices where test(expression, current: object.values[i]) {
                    out.append(LocatedNode(value: object.values[i], location: node.location.appending(name: object.keys[i])))
                }
            default:
                break
            }
        }
    }

    /// RFC 9535 2.3.4.2.2 slice bounds.
    static func forEachSliceIndex(count: Int, start: Int?, end: Int?, step: Int?, _ body: (Int) -> Void) {
        let step = step ?? 1
        guard step != 0, count > 0 else { return }
        func normalize(_ i: Int) -> Int { i >= 0 ? i : count + i }
        if step > 0 {
            let lower = min(max(normalize(start ?? 0), 0), count)
            let upper = min(max(normalize(end ?? count), 0), count)
            var i = lower
            while i < upper {
                body(i)
                i += step
            }
        } else {
            let upper = min(max(normalize(start ?? count - 1), -1), count - 1)
            let lower = min(max(normalize(end ?? -count - 1), -1), count - 1)
            var i = upper
            while lower < i {
                body(i)
                i += step
            }
        }
    }

    // MARK: - Filters

    func test(_ expression: RFCLogical, current: JSONValue) -> Bool {
        switch expression {
        case .or(let operands):
            for operand in operands where test(operand, current: current) { return true }
            return false
        case .and(let operands):
            for operand in operands where !test(operand, current: current) { return false }
            return true
        case .not(let inner):
            return !test(inner, current: current)
        case .exists(let query):
            if let steps = query.singular {
                return singular(steps, from: query.isRelative ? current : root) != nil
            }
            return !select(query.segments, from: query.isRelative ? current : root, at: NoLocation()).isEmpty
        case .function(let call):
            return logical(call, current: current)
        case .comparison(let left, let op, let right):
            return Self.compare(value(left, current: current), op, value(right, current: current))
        }
    }

    func singular(_ steps: [RFCFilterQuery.SingularStep], from start: JSONValue) -> JSONValue? {
        var value = start
        for step in steps {
            switch (step, value) {
            case (.name(let name), .object(let object)):
                guard let i = object.exactIndex(of: name) else { return nil }
                value = object.values[i]
            case (.index(let index), .array(let elements)):
                let i = index < 0 ? elements.count + index : index
                guard i >= 0 && i < elements.count else { return nil }
                value = elements[i]
            default:
                return nil
            }
        }
        return value
    }

    /// nil is RFC 9535 "Nothing".
    private func value(_ comparable: RFCComparable, current: JSONValue) -> JSONValue? {
        switch comparable {
        case .literal(let v): return v
        case .query(let q): return singular(q.singular ?? [], from: q.isRelative ? current : root)
        case .function(let call): return value(call, current: current)
        }
    }

    private func argumentValue(_ argument: RFCArgument, current: JSONValue) -> JSONValue? {
        switch argument {
        case .literal(let v): return v
        case .query(let q): return singular(q.singular ?? [], from: q.isRelative ? current : root)
        case .function(let call): return value(call, current: current)
        case .logical: return nil
        }
    }

    private func argumentNodes(_ argument: RFCArgument, current: JSONValue) -> [LocatedNode<NoLocation>] {
        guard case .query(let q) = argument else { return [] }
        return select(q.segments, from: q.isRelative ? current : root, at: NoLocation())
    }

    private func value(_ call: RFCFunctionCall, current: JSONValue) -> JSONValue? {
        switch call.function {
        case .length:
            switch argumentValue(call.arguments[0], current: current) {
            case .string(let s): return .int(Int64(s.unicodeScalars.count))
            case .array(let a): return .int(Int64(a.count))
            case .object(let o): return .int(Int64(o.count))
            default: return nil
            }
        case .count:
            return .int(Int64(argumentNodes(call.arguments[0], current: current).count))
        case .value:
            let nodes = argumentNodes(call.arguments[0], current: current)
            // Not a ternary: `nil` there would become JSONValue.null through its nil literal.
            guard nodes.count == 1 else { return nil }
            return nodes[0].value
        case .match, .search:
            return nil
        }
    }

    private func logical(_ call: RFCFunctionCall, current: JSONValue) -> Bool {
        guard call.function.returnsLogical,
              case .string(let text)? = argumentValue(call.arguments[0], current: current)
        else { return false }
        let regex: Regex
        switch call.literalPattern {
        case .valid(let compiled)?:
            regex = compiled
        case .invalid?:
            return false
        case nil:
            guard case .string(let pattern)? = argumentValue(call.arguments[1], current: current),
                  let compiled = try? Regex(pattern, syntax: .iRegexp)
            else { return false }
            regex = compiled
        }
        return call.function == .match ? regex.matchesWhole(text) : regex.matchesAnywhere(text)
    }

    // MARK: - Comparison (RFC 9535 2.3.5.2.2)

    static func compare(_ left: JSONValue?, _ op: RFCComparisonOperator, _ right: JSONValue?) -> Bool {
        switch op {
        case .equal: return equal(left, right)
        case .notEqual: return !equal(left, right)
        case .less: return less(left, right)
        case .lessOrEqual: return less(left, right) || equal(left, right)
        case .greater: return less(right, left)
        case .greaterOrEqual: return less(right, left) || equal(left, right)
        }
    }

    private static func equal(_ left: JSONValue?, _ right: JSONValue?) -> Bool {
        switch (left, right) {
        case (.none, .none): return true
        case (let a?, let b?): return deepEqual(a, b)
        default: return false
        }
    }

    static func deepEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.int, .double), (.double, .int), (.double, .double), (.exactNumber, _), (_, .exactNumber):
            return numericOrder(a, b) == 0
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for i in x.indices where !deepEqual(x[i], y[i]) { return false }
            return true
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for i in x.keys.indices {
                guard let j = y.exactIndex(of: x.keys[i]), deepEqual(x.values[i], y.values[j]) else { return false }
            }
            return true
        default: return false
        }
    }

    private static func less(_ left: JSONValue?, _ right: JSONValue?) -> Bool {
        switch (left, right) {
        case (.string(let x)?, .string(let y)?):
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (let a?, let b?) where a.isNumber && b.isNumber:
            return numericOrder(a, b) == -1
        default:
            return false
        }
    }

    /// -1, 0, 1, or nil when not both numbers (or NaN). Integers and kept number texts compare
    /// exactly (`JSONValue.numericOrder`).
    static func numericOrder(_ a: JSONValue, _ b: JSONValue) -> Int? {
        guard let x = a.doubleValue, let y = b.doubleValue, !x.isNaN, !y.isNaN else { return nil }
        return JSONValue.numericOrder(a, b)
    }
}
