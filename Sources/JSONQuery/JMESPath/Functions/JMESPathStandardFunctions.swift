extension JMESPath.Interpreter {
    static func call(
        _ function: JMESPath.Function, _ arguments: [JMESPath.Node], _ value: JSONValue
    ) throws(JMESPathError) -> JSONValue {
        try JMESPath.Call(function: function, nodes: arguments, current: value).run()
    }
}

extension JMESPath {
    /// One function call: evaluates arguments, checks their types and applies the function.
    struct Call {
        let function: Function
        let nodes: [Node]
        let current: JSONValue

        private var name: String { function.rawValue }

        /// Picks the implementation first and calls it from a single site: in unoptimised builds
        /// every call site reserves its own stack slots, and this frame sits on the stack once
        /// per level of nested function calls.
        func run() throws(JMESPathError) -> JSONValue {
            let implementation: (Call) -> () throws(JMESPathError) -> JSONValue = switch function {
            case .abs: Call.applyAbs
            case .avg: Call.applyAvg
            case .ceil: Call.applyCeil
            case .floor: Call.applyFloor
            case .contains: Call.applyContains
            case .endsWith: Call.applyEndsWith
            case .startsWith: Call.applyStartsWith
            case .join: Call.applyJoin
            case .keys: Call.applyKeys
            case .values: Call.applyValues
            case .length: Call.applyLength
            case .map: Call.applyMap
            case .max, .min: Call.applyMaxOrMin
            case .maxBy, .minBy: Call.applyMaxByOrMinBy
            case .merge: Call.applyMerge
            case .notNull: Call.applyNotNull
            case .reverse: Call.applyReverse
            case .sort: Call.applySort
            case .sortBy: Call.applySortBy
            case .sum: Call.applySum
            case .toArray: Call.applyToArray
            case .toString: Call.applyToString
            case .toNumber: Call.applyToNumber
            case .type: Call.applyType
            case .add, .subtract, .multiply, .divide, .pow, .insertString, .fromUnixTimestamp, .fromUnixTimestampMs:
                Call.runMedTech
            }
            return try implementation(self)()
        }

        private func applyAbs() throws(JMESPathError) -> JSONValue {
            switch try number(0) {
            case .int(let i): return i == .min ? .double(-Double(i)) : .int(Swift.abs(i))
            case .exactNumber(let n): return .exactNumber(n.magnitude)
            case let n: return .double(Swift.abs(n.doubleValue ?? 0))
            }
        }

        private func applyAvg() throws(JMESPathError) -> JSONValue {
            let numbers = try numberArray(0)
            guard !numbers.isEmpty else { return .null }
            var total = 0.0
            for n in numbers { total += n.doubleValue ?? 0 }
            return .double(total / Double(numbers.count))
        }

        private func applyCeil() throws(JMESPathError) -> JSONValue {
            return Self.integral(try number(0), .up)
        }

        private func applyFloor() throws(JMESPathError) -> JSONValue {
            return Self.integral(try number(0), .down)
        }

        private func applyContains() throws(JMESPathError) -> JSONValue {
            let subject = try argument(0)
            let search = try argument(1)
            switch subject {
            case .array(let elements): return .bool(elements.contains { JMESPath.Interpreter.equal($0, search) })
            case .string(let s):
                guard case .string(let needle) = search else { return .bool(false) }
                return .bool(Self.utf8(s, contains: needle))
            default: throw typeError(0, expected: "an array or a string", got: subject)
            }
        }

        private func applyEndsWith() throws(JMESPathError) -> JSONValue {
            let subject = Array(try string(0).utf8)
            let suffix = Array(try string(1).utf8)
            return .bool(subject.count >= suffix.count && subject[(subject.count - suffix.count)...].elementsEqual(suffix))
        }

        private func applyStartsWith() throws(JMESPathError) -> JSONValue {
            let subject = try string(0)
            let prefix = try string(1)
            return .bool(subject.utf8.starts(with: prefix.utf8))
        }

        private func applyJoin() throws(JMESPathError) -> JSONValue {
            let glue = try string(0)
            let parts = try array(1)
            var pieces: [String] = []
            pieces.reserveCapacity(parts.count)
            for part in parts {
                guard case .string(let s) = part else {
                    throw typeError(1, expected: "an array of strings", got: part)
                }
                pieces.append(s)
            }
            return .string(pieces.joined(separator: glue))
        }

        private func applyKeys() throws(JMESPathError) -> JSONValue {
            return .array(try object(0).keys.map { .string($0) })
        }

        private func applyValues() throws(JMESPathError) -> JSONValue {
            return .array(try object(0).values)
        }

        private func applyLength() throws(JMESPathError) -> JSONValue {
            let subject = try argument(0)
            switch subject {
            case .string(let s): return .int(Int64(s.unicodeScalars.count))
            case .array(let a): return .int(Int64(a.count))
            case .object(let o): return .int(Int64(o.count))
            default: throw typeError(0, expected: "a string, an array or an object", got: subject)
            }
        }

        private func applyMap() throws(JMESPathError) -> JSONValue {
            let expression = try expressionReference(0)
            let elements = try array(1)
            var results: [JSONValue] = []
            results.reserveCapacity(elements.count)
            for element in elements { results.append(try Interpreter.evaluate(expression, element)) }
            return .array(results)
        }

        private func applyMaxOrMin() throws(JMESPathError) -> JSONValue {
            let elements = try sortableArray(0)
            guard var best = elements.first else { return .null }
            for element in elements.dropFirst() {
                let order = Self.order(element, best)
                if function == .max ? order > 0 : order < 0 { best = element }
            }
            return best
        }

        private func applyMaxByOrMinBy() throws(JMESPathError) -> JSONValue {
            let elements = try array(0)
            let expression = try expressionReference(1)
            let keys = try sortKeys(elements, expression)
            guard !elements.isEmpty else { return .null }
            var best = 0
            for i in 1..<elements.count {
                let order = Self.order(keys[i], keys[best])
                if function == .maxBy ? order > 0 : order < 0 { best = i }
            }
            return elements[best]
        }

        private func applyMerge() throws(JMESPathError) -> JSONValue {
            var merged = JSONObject()
            for i in nodes.indices {
                for (key, member) in try object(i).members { merged[key] = member }
            }
            return .object(merged)
        }

        private func applyNotNull() throws(JMESPathError) -> JSONValue {
            for i in nodes.indices {
                let candidate = try argument(i)
                if !candidate.isNull { return candidate }
            }
            return .null
        }

        private func applyReverse() throws(JMESPathError) -> JSONValue {
            let subject = try argument(0)
            switch subject {
            case .string(let s):
                var reversed = String.UnicodeScalarView()
                reversed.append(contentsOf: s.unicodeScalars.reversed())
                return .string(String(reversed))
            case .array(let a): return .array(a.reversed())
            default: throw typeError(0, expected: "an array or a string", got: subject)
            }
        }

        private func applySort() throws(JMESPathError) -> JSONValue {
            let elements = try sortableArray(0)
            return .array(Self.stableSorted(elements, keys: elements))
        }

        private func applySortBy() throws(JMESPathError) -> JSONValue {
            let elements = try array(0)
            let expression = try expressionReference(1)
            let keys = try sortKeys(elements, expression)
            return .array(Self.stableSorted(elements, keys: keys))
        }

        private func applySum() throws(JMESPathError) -> JSONValue {
            var integer: Int64 = 0
            var real = 0.0
            var isInteger = true
            for n in try numberArray(0) {
                if isInteger, case .int(let i) = n {
                    let (next, overflow) = integer.addingReportingOverflow(i)
                    if !overflow { integer = next; continue }
                }
                if isInteger { real = Double(integer); isInteger = false }
                real += n.doubleValue ?? 0
            }
            return isInteger ? .int(integer) : .double(real)
        }

        private func applyToArray() throws(JMESPathError) -> JSONValue {
            let subject = try argument(0)
            if case .array = subject { return subject }
            return .array([subject])
        }

        private func applyToString() throws(JMESPathError) -> JSONValue {
            let subject = try argument(0)
            if case .string = subject { return subject }
            return .string(JSONWriter().string(subject))
        }

        private func applyToNumber() throws(JMESPathError) -> JSONValue {
            switch try argument(0) {
            case let n where n.isNumber: return n
            case .string(let s): return Self.parseNumber(s) ?? .null
            default: return .null
            }
        }

        private func applyType() throws(JMESPathError) -> JSONValue {
            return .string(try argument(0).typeName)
        }

        // MARK: - Arguments

        func argument(_ i: Int) throws(JMESPathError) -> JSONValue {
            try Interpreter.evaluate(nodes[i], current)
        }

        func typeError(_ i: Int, expected: String, got value: JSONValue) -> JMESPathError {
            JMESPathError(.invalidType, "\(name)() expects argument \(i + 1) to be \(expected), but got \(value.typeName)")
        }

        func number(_ i: Int) throws(JMESPathError) -> JSONValue {
            let value = try argument(i)
            guard value.isNumber else { throw typeError(i, expected: "a number", got: value) }
            return value
        }

        func string(_ i: Int) throws(JMESPathError) -> String {
            let value = try argument(i)
            guard case .string(let s) = value else { throw typeError(i, expected: "a string", got: value) }
            return s
        }

        func array(_ i: Int) throws(JMESPathError) -> [JSONValue] {
            let value = try argument(i)
            guard case .array(let a) = value else { throw typeError(i, expected: "an array", got: value) }
            return a
        }

        func object(_ i: Int) throws(JMESPathError) -> JSONObject {
            let value = try argument(i)
            guard case .object(let o) = value else { throw typeError(i, expected: "an object", got: value) }
            return o
        }

        func numberArray(_ i: Int) throws(JMESPathError) -> [JSONValue] {
            let elements = try array(i)
            for element in elements where !element.isNumber {
                throw typeError(i, expected: "an array of numbers", got: element)
            }
            return elements
        }

        /// An array whose elements are all numbers or all strings.
        func sortableArray(_ i: Int) throws(JMESPathError) -> [JSONValue] {
            let elements = try array(i)
            guard let first = elements.first else { return elements }
            let wantsNumbers = first.isNumber
            for element in elements {
                let ok = wantsNumbers ? element.isNumber : element.stringValue != nil
                if !ok { throw typeError(i, expected: "an array of numbers or an array of strings", got: element) }
            }
            return elements
        }

        func expressionReference(_ i: Int) throws(JMESPathError) -> Node {
            guard case .expressionReference(let expression) = nodes[i] else {
                throw JMESPathError(.invalidType, "\(name)() expects argument \(i + 1) to be an expression reference (&...)")
            }
            return expression
        }

        /// The sort keys of `elements` under `expression`: all numbers or all strings.
        func sortKeys(_ elements: [JSONValue], _ expression: Node) throws(JMESPathError) -> [JSONValue] {
            var keys: [JSONValue] = []
            keys.reserveCapacity(elements.count)
            var wantsNumbers: Bool? = nil
            for element in elements {
                let key = try Interpreter.evaluate(expression, element)
                let isNumber = key.isNumber
                guard isNumber || key.stringValue != nil, wantsNumbers == nil || wantsNumbers == isNumber else {
                    throw JMESPathError(
                        .invalidType,
                        "\(name)() needs the expression to give all numbers or all strings, but got \(key.typeName)")
                }
                wantsNumbers = isNumber
                keys.append(key)
            }
            return keys
        }

        // MARK: - Helpers

        static func integral(_ n: JSONValue, _ rule: FloatingPointRoundingRule) -> JSONValue {
            let d: Double
            switch n {
            case .double(let value): d = value
            // An integer beyond Int64 is already integral; other kept numbers round as Doubles.
            case .exactNumber(let kept) where !kept.isInteger: d = kept.doubleValue
            default: return n
            }
            let rounded = d.rounded(rule)
            if rounded >= -9.223372036854775808e18 && rounded < 9.223372036854775808e18 { return .int(Int64(rounded)) }
            return .double(rounded)
        }

        /// Numbers by value, strings by code point (UTF-8 byte order is code point order).
        static func order(_ a: JSONValue, _ b: JSONValue) -> Int {
            switch (a, b) {
            case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
            case (.string(let x), .string(let y)):
                if x == y { return 0 }
                return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
            default:
                return JSONValue.numericOrder(a, b) ?? 0
            }
        }

        /// Sorts by key; equal keys keep their original order.
        static func stableSorted(_ elements: [JSONValue], keys: [JSONValue]) -> [JSONValue] {
            let order = elements.indices.sorted { i, j in
                let c = Self.order(keys[i], keys[j])
                return c != 0 ? c < 0 : i < j
            }
            return order.map { elements[$0] }
        }

        static func utf8(_ haystack: String, contains needle: String) -> Bool {
            let h = Array(haystack.utf8)
            let n = Array(needle.utf8)
            if n.isEmpty { return true }
            guard h.count >= n.count else { return false }
            for start in 0...(h.count - n.count) where h[start] == n[0] {
                if h[start..<(start + n.count)].elementsEqual(n) { return true }
            }
            return false
        }

        /// `to_number` on a string: an integer, a decimal or an exponent form; anything else is null.
        static func parseNumber(_ text: String) -> JSONValue? {
            var bytes = Substring(text).utf8[...]
            let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            while let first = bytes.first, isSpace(first) { bytes = bytes.dropFirst() }
            while let last = bytes.last, isSpace(last) { bytes = bytes.dropLast() }
            var i = bytes.startIndex
            func digits() -> Int {
                var n = 0
                while i < bytes.endIndex, bytes[i] >= 0x30, bytes[i] <= 0x39 { i = bytes.index(after: i); n += 1 }
                return n
            }
            if i < bytes.endIndex, bytes[i] == 0x2D || bytes[i] == 0x2B { i = bytes.index(after: i) }
            var count = digits()
            var isInteger = true
            if i < bytes.endIndex, bytes[i] == 0x2E {
                isInteger = false
                i = bytes.index(after: i)
                count += digits()
            }
            guard count > 0 else { return nil }
            if i < bytes.endIndex, bytes[i] == 0x65 || bytes[i] == 0x45 {
                isInteger = false
                i = bytes.index(after: i)
                if i < bytes.endIndex, bytes[i] == 0x2D || bytes[i] == 0x2B { i = bytes.index(after: i) }
                guard digits() > 0 else { return nil }
            }
            guard i == bytes.endIndex else { return nil }
            let spelled = String(Substring(bytes))
            if isInteger, let n = Int64(spelled) { return .int(n) }
            // Text in JSON number syntax that no Int64 or Double holds exactly keeps its text.
            if let kept = JSONValue(numberText: spelled), case .exactNumber = kept { return kept }
            guard let d = Double(spelled), d.isFinite else { return nil }
            return .double(d)
        }
    }
}
