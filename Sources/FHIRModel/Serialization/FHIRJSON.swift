package import JSONQuery

/// A value that is written to and read from FHIR JSON.
package protocol FHIRJSONRepresentable: Sendable {
    /// The FHIR JSON form; empty elements are omitted, as FHIR requires.
    var json: JSONValue { get }
    init(json: JSONValue, path: String) throws(FHIRDecodingError)
}

extension FHIRJSONRepresentable {
    package init(json: JSONValue) throws(FHIRDecodingError) {
        try self.init(json: json, path: String(describing: Self.self))
    }
}

/// Reads the members of one JSON object, naming the path in every error.
struct FHIRObjectReader {
    let object: JSONObject
    let path: String

    init(_ json: JSONValue, path: String) throws(FHIRDecodingError) {
        guard case .object(let object) = json else {
            throw FHIRDecodingError(path: path, message: "expected an object, found \(json.typeName)")
        }
        self.object = object
        self.path = path
    }

    func string(_ key: String) throws(FHIRDecodingError) -> String? {
        guard let value = object[key], !value.isNull else { return nil }
        guard case .string(let s) = value else {
            throw FHIRDecodingError(path: "\(path).\(key)", message: "expected a string, found \(value.typeName)")
        }
        return s
    }

    func requiredString(_ key: String) throws(FHIRDecodingError) -> String {
        guard let s = try string(key) else {
            throw FHIRDecodingError(path: "\(path).\(key)", message: "required member is missing")
        }
        return s
    }

    func integer(_ key: String) throws(FHIRDecodingError) -> Int64? {
        guard let value = object[key], !value.isNull else { return nil }
        switch value {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e18: return Int64(d)
        default:
            throw FHIRDecodingError(path: "\(path).\(key)", message: "expected an integer, found \(value.typeName)")
        }
    }

    func decimal(_ key: String) throws(FHIRDecodingError) -> FHIRDecimal? {
        guard let value = object[key], !value.isNull else { return nil }
        guard let decimal = FHIRDecimal(json: value) else {
            throw FHIRDecodingError(path: "\(path).\(key)", message: "expected a number, found \(value.typeName)")
        }
        return decimal
    }

    func element<T: FHIRJSONRepresentable>(_ key: String, as type: T.Type) throws(FHIRDecodingError) -> T? {
        guard let value = object[key], !value.isNull else { return nil }
        return try T(json: value, path: "\(path).\(key)")
    }

    func array<T: FHIRJSONRepresentable>(_ key: String, of type: T.Type) throws(FHIRDecodingError) -> [T] {
        guard let value = object[key], !value.isNull else { return [] }
        guard case .array(let elements) = value else {
            throw FHIRDecodingError(path: "\(path).\(key)", message: "expected an array, found \(value.typeName)")
        }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            result.append(try T(json: element, path: "\(path).\(key)[\(index)]"))
        }
        return result
    }

    func strings(_ key: String) throws(FHIRDecodingError) -> [String] {
        guard let value = object[key], !value.isNull else { return [] }
        guard case .array(let elements) = value else {
            throw FHIRDecodingError(path: "\(path).\(key)", message: "expected an array, found \(value.typeName)")
        }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let s) = element else {
                throw FHIRDecodingError(path: "\(path).\(key)[\(index)]", message: "expected a string, found \(element.typeName)")
            }
            result.append(s)
        }
        return result
    }

    /// Members not in `known`, kept so that a resource read, changed and written back loses nothing.
    func unknownMembers(excluding known: Set<String>) -> JSONObject {
        var rest = JSONObject()
        for (key, value) in object.members where !known.contains(key) { rest[key] = value }
        return rest
    }
}

/// Builds a FHIR JSON object in element order, leaving out empty elements.
///
/// Each builder sets distinct, fixed element names, so members are appended without looking for
/// an existing key, until a name that comes from data (`value[x]`) or `merge` may repeat one.
struct FHIRObjectWriter {
    private(set) var object = JSONObject()
    private var keysMayRepeat = false

    private mutating func put(_ key: String, _ value: JSONValue) {
        if keysMayRepeat {
            object[key] = value
        } else {
            object.append(uniqueKey: key, value)
        }
    }

    mutating func set(_ key: String, _ value: String?) {
        guard let value, !value.isEmpty else { return }
        put(key, .string(value))
    }

    mutating func set(_ key: String, _ value: Int64?) {
        guard let value else { return }
        put(key, .int(value))
    }

    mutating func set(_ key: String, _ value: FHIRDecimal?) {
        guard let value else { return }
        put(key, value.json)
    }

    mutating func set(_ key: String, _ value: (some FHIRJSONRepresentable)?) {
        guard let value else { return }
        let json = value.json
        if case .object(let o) = json, o.isEmpty { return }
        put(key, json)
    }

    mutating func set(_ key: String, _ values: [some FHIRJSONRepresentable]) {
        guard !values.isEmpty else { return }
        var elements: [JSONValue] = []
        elements.reserveCapacity(values.count)
        for value in values {
            let element = value.json
            if case .object(let o) = element, o.isEmpty { continue }
            elements.append(element)
        }
        guard !elements.isEmpty else { return }
        put(key, .array(elements))
    }

    mutating func set(_ key: String, strings values: [String]) {
        let elements = values.filter { !$0.isEmpty }
        guard !elements.isEmpty else { return }
        put(key, .array(elements.map { .string($0) }))
    }

    /// A member written as is, even when empty.
    mutating func set(_ key: String, raw value: JSONValue) {
        put(key, value)
    }

    /// A member whose name comes from data (`value[x]`): it may equal a fixed name set before
    /// or after it, which it then replaces in place, as the subscript does.
    mutating func set(dataKey key: String, raw value: JSONValue) {
        keysMayRepeat = true
        object[key] = value
    }

    mutating func merge(_ other: JSONObject) {
        keysMayRepeat = true
        for (key, value) in other.members where object[key] == nil { object[key] = value }
    }

    var json: JSONValue { .object(object) }
}
