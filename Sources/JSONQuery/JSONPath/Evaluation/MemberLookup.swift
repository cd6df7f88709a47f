extension JSONObject {
    /// Member lookup by exact Unicode scalars. JSONPath names are compared code point by code
    /// point (RFC 9535, Json.NET ordinal), not by Swift's canonical-equivalence `==`.
    func exactIndex(of name: String) -> Int? {
        for (i, key) in keys.enumerated() where key.unicodeScalars.elementsEqual(name.unicodeScalars) {
            return i
        }
        return nil
    }
}
