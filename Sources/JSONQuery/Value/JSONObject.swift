/// A JSON object that keeps its members in insertion (document) order.
///
/// Device messages are small, so members live in one array and lookups scan it; that beats a
/// hash table for the handful of keys a reading has and keeps document order for free.
/// Keys are unique: setting an existing key replaces its value in place.
package struct JSONObject: Sendable {
    package private(set) var keys: [String] = []
    package private(set) var values: [JSONValue] = []

    package init() {}

    package init(_ members: [(String, JSONValue)]) {
        keys.reserveCapacity(members.count)
        values.reserveCapacity(members.count)
        for (key, value) in members { self[key] = value }
    }

    /// Builds from members already known to have unique keys (the parser checks).
    init(uniqueKeys: [String], values: [JSONValue]) {
        self.keys = uniqueKeys
        self.values = values
    }

    package var count: Int { keys.count }
    package var isEmpty: Bool { keys.isEmpty }

    package func index(forKey key: String) -> Int? {
        keys.firstIndex(of: key)
    }

    package subscript(key: String) -> JSONValue? {
        get {
            guard let i = index(forKey: key) else { return nil }
            return values[i]
        }
        set {
            if let i = index(forKey: key) {
                if let newValue {
                    values[i] = newValue
                } else {
                    keys.remove(at: i)
                    values.remove(at: i)
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// Appends a member the caller knows is not present yet, without the scan the subscript's
    /// setter makes: builders writing a fixed set of distinct element names use it.
    package mutating func append(uniqueKey key: String, _ value: JSONValue) {
        assert(index(forKey: key) == nil, "duplicate key \(key)")
        keys.append(key)
        values.append(value)
    }

    /// Members in document order.
    package var members: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }
}

extension JSONObject: Equatable {
    /// Member order does not matter for equality.
    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs.members {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }
}

extension JSONObject: Hashable {
    package func hash(into hasher: inout Hasher) {
        // Order-independent: combine member hashes commutatively.
        var combined = 0
        for (key, value) in members {
            var member = Hasher()
            member.combine(key)
            member.combine(value)
            combined ^= member.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
