/// A JSON document as the query engines and templates see it.
///
/// Integers and floating-point numbers are distinct cases because the MedTech template language
/// depends on it (integer `divide` truncates, `1.0` prints as `1`). A number that neither `Int64`
/// nor `Double` holds exactly (an integer beyond 64 bits, a decimal with more digits than a
/// `Double` keeps, `1e999999`) is `exactNumber`, which keeps its text. Objects keep their members
/// in document order, which JSONPath results and template matches follow.
package enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case exactNumber(JSONNumberText)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

extension JSONValue {
    /// The JMESPath / RFC 8259 type name of the value.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .double, .exactNumber: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    package var isNumber: Bool {
        switch self {
        case .int, .double, .exactNumber: true
        default: false
        }
    }

    /// The numeric value as a `Double`, for numbers only.
    package var doubleValue: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .exactNumber(let n): n.doubleValue
        default: nil
        }
    }

    package var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    package var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Member lookup; `nil` for a missing member or a non-object.
    package subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

// MARK: - Equality
//
// JSON equality: numbers compare by value (1 == 1.0; see `numericOrder` for kept numbers),
// objects compare without regard to member order, arrays compare in order. This is what JMESPath `==` and the conformance suites expect.
extension JSONValue: Equatable {
    package static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.int(let a), .double(let b)): return Double(a) == b
        case (.double(let a), .int(let b)): return a == Double(b)
        case (.double(let a), .double(let b)): return a == b
        case (.exactNumber, .int), (.int, .exactNumber), (.exactNumber, .exactNumber), (.exactNumber, .double),
            (.double, .exactNumber):
            return numericOrder(lhs, rhs) == 0
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }
}

extension JSONValue: Hashable {
    package func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        // Numbers hash by their Double value so that 1 and 1.0 hash alike.
        case .int(let i): hasher.combine(2); hasher.combine(Double(i))
        case .double(let d): hasher.combine(2); hasher.combine(d)
        case .exactNumber(let n): hasher.combine(2); hasher.combine(n.doubleValue)
        case .string(let s): hasher.combine(3); hasher.combine(s)
        case .array(let a): hasher.combine(4); hasher.combine(a)
        case .object(let o): hasher.combine(5); hasher.combine(o)
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    package init(nilLiteral: ()) { self = .null }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int64) { self = .int(value) }
    package init(floatLiteral value: Double) { self = .double(value) }
    package init(stringLiteral value: String) { self = .string(value) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}
