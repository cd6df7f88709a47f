extension JMESPath {
    /// Walks a compiled tree against a document. Values are passed as enum payloads whose arrays
    /// and objects are copy-on-write, so selecting a member or element does not copy anything.
    enum Interpreter {
        /// Dispatches on the node. The work of each construct lives in its own function so this
        /// frame, which recurses once per tree level, stays small even in debug builds.
        static func evaluate(_ node: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            switch node {
            case .identity: return value
            case .field(let name): return field(name, value)
            case .chain(let steps): return try chain(steps, value)
            case .index(let index): return self.index(index, value)
            case .slice(let start, let stop, let step): return try slice(start, stop, step, value)
            case .literal(let literal): return literal
            case .listProjection(let left, let right): return try listProjection(left, right, value)
            case .objectProjection(let left, let right): return try objectProjection(left, right, value)
            case .filterProjection(let left, let condition, let right):
                return try filterProjection(left, condition, right, value)
            case .flatten(let inner): return try flatten(inner, value)
            case .multiSelectList(let nodes): return try multiSelectList(nodes, value)
            case .multiSelectHash(let keys, let nodes): return try multiSelectHash(keys, nodes, value)
            case .or(let left, let right): return try or(left, right, value)
            case .and(let left, let right): return try and(left, right, value)
            case .not(let operand): return .bool(!isTruthy(try evaluate(operand, value)))
            case .comparison(let comparator, let left, let right): return try compare(comparator, left, right, value)
            case .function(let function, let arguments): return try call(function, arguments, value)
            case .expressionReference: throw bareExpressionReference()
            }
        }

        private static func chain(_ steps: [Node], _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            var result = value
            for step in steps { result = try evaluate(step, result) }
            return result
        }

        private static func field(_ name: String, _ value: JSONValue) -> JSONValue {
            if case .object(let object) = value { return object[name] ?? .null }
            return .null
        }

        private static func index(_ index: Int, _ value: JSONValue) -> JSONValue {
            guard case .array(let elements) = value else { return .null }
            let i = index < 0 ? elements.count + index : index
            return i >= 0 && i < elements.count ? elements[i] : .null
        }

        private static func slice(_ start: Int?, _ stop: Int?, _ step: Int?, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            guard case .array(let elements) = value else { return .null }
            return .array(try slice(elements, start: start, stop: stop, step: step))
        }

        private static func listProjection(_ left: Node, _ right: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            guard case .array(let elements) = try evaluate(left, value) else { return .null }
            if case .identity = right { return .array(elements.filter { !$0.isNull }) }
            var results: [JSONValue] = []
            results.reserveCapacity(elements.count)
            for element in elements {
                let result = try evaluate(right, element)
                if !result.isNull { results.append(result) }
            }
            return .array(results)
        }

        private static func objectProjection(_ left: Node, _ right: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            guard case .object(let object) = try evaluate(left, value) else { return .null }
            var results: [JSONValue] = []
            results.reserveCapacity(object.count)
            for member in object.values {
                let result = try evaluate(right, member)
                if !result.isNull { results.append(result) }
            }
            return .array(results)
        }

        private static func filterProjection(
            _ left: Node, _ condition: Node, _ right: Node, _ value: JSONValue
        ) throws(JMESPathError) -> JSONValue {
            guard case .array(let elements) = try evaluate(left, value) else { return .null }
            var results: [JSONValue] = []
            results.reserveCapacity(elements.count)
            for element in elements where isTruthy(try evaluate(condition, element)) {
                let result = try evaluate(right, element)
                if !result.isNull { results.append(result) }
            }
            return .array(results)
        }

        private static func flatten(_ inner: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            guard case .array(let elements) = try evaluate(inner, value) else { return .null }
            var results: [JSONValue] = []
            results.reserveCapacity(elements.count)
            for element in elements {
                if case .array(let nested) = element {
                    results.append(contentsOf: nested)
                } else {
                    results.append(element)
                }
            }
            return .array(results)
        }

        private static func multiSelectList(_ nodes: [Node], _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            if value.isNull { return .null }
            var results: [JSONValue] = []
            results.reserveCapacity(nodes.count)
            for element in nodes { results.append(try evaluate(element, value)) }
            return .array(results)
        }

        private static func multiSelectHash(_ keys: [String], _ nodes: [Node], _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            if value.isNull { return .null }
            var object = JSONObject()
            for (key, element) in zip(keys, nodes) { object[key] = try evaluate(element, value) }
            return .object(object)
        }

        private static func or(_ left: Node, _ right: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            let result = try evaluate(left, value)
            return isTruthy(result) ? result : try evaluate(right, value)
        }

        private static func and(_ left: Node, _ right: Node, _ value: JSONValue) throws(JMESPathError) -> JSONValue {
            let result = try evaluate(left, value)
            return isTruthy(result) ? try evaluate(right, value) : result
        }

        private static func compare(
            _ comparator: Comparator, _ left: Node, _ right: Node, _ value: JSONValue
        ) throws(JMESPathError) -> JSONValue {
            compare(comparator, try evaluate(left, value), try evaluate(right, value))
        }

        private static func bareExpressionReference() -> JMESPathError {
            JMESPathError(.invalidType, "an expression reference (&...) can only be passed to a function that takes one")
        }

        /// False, null, "", [] and {} are false; everything else (including 0) is true.
        static func isTruthy(_ value: JSONValue) -> Bool {
            switch value {
            case .null: false
            case .bool(let b): b
            case .string(let s): !s.isEmpty
            case .array(let a): !a.isEmpty
            case .object(let o): !o.isEmpty
            case .int, .double, .exactNumber: true
            }
        }

        /// JSON equality with strings compared by code point, as the specification requires
        /// (Swift's `String ==` would also equate canonically equivalent spellings).
        static func equal(_ left: JSONValue, _ right: JSONValue) -> Bool {
            switch (left, right) {
            case (.string(let a), .string(let b)):
                return a.utf8.elementsEqual(b.utf8)
            case (.array(let a), .array(let b)):
                guard a.count == b.count else { return false }
                for i in a.indices where !equal(a[i], b[i]) { return false }
                return true
            case (.object(let a), .object(let b)):
                guard a.count == b.count else { return false }
                for (key, value) in a.members {
                    guard let j = b.keys.firstIndex(where: { $0.utf8.elementsEqual(key.utf8) }),
                        equal(value, b.values[j])
                    else { return false }
                }
                return true
            default:
                return left == right
            }
        }

        /// Ordering comparisons are defined for numbers only; anything else gives null.
        static func compare(_ comparator: Comparator, _ left: JSONValue, _ right: JSONValue) -> JSONValue {
            switch comparator {
            case .equal: return .bool(equal(left, right))
            case .notEqual: return .bool(!equal(left, right))
            default: break
            }
            guard let order = JSONValue.numericOrder(left, right) else { return .null }
            switch comparator {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        }

        /// Python-style slicing: negative positions count from the end and out-of-range positions
        /// are clamped.
        static func slice(_ elements: [JSONValue], start: Int?, stop: Int?, step: Int?) throws(JMESPathError) -> [JSONValue] {
            let step = step ?? 1
            guard step != 0 else { throw JMESPathError(.invalidValue, "a slice step cannot be 0") }
            let count = elements.count
            func clamp(_ position: Int?, ifAbsent absent: Int) -> Int {
                guard var position else { return absent }
                if position < 0 {
                    position += count
                    if position < 0 { position = step < 0 ? -1 : 0 }
                } else if position >= count {
                    position = step < 0 ? count - 1 : count
                }
                return position
            }
            var i = clamp(start, ifAbsent: step < 0 ? count - 1 : 0)
            let end = clamp(stop, ifAbsent: step < 0 ? -1 : count)
            var results: [JSONValue] = []
            while step > 0 ? i < end : i > end {
                results.append(elements[i])
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
            return results
        }
    }
}
