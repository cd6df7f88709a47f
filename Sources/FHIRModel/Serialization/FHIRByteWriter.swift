import JSONQuery

/// An element that can write its FHIR JSON object straight into bytes.
///
/// `writeMembers` writes exactly the members `json` would hold, in the same order and with the
/// same omissions, so that the byte form and `JSONWriter().write(json)` are identical. Skipping
/// the intermediate tree saves most of the allocations of serialising an Observation.
protocol FHIRByteWritable {
    /// Writes the members of this element's JSON object, without the braces.
    func writeMembers(to writer: inout FHIRByteWriter)
}

/// Writes compact FHIR JSON into a byte buffer, member by member, leaving out empty elements
/// as `FHIRObjectWriter` does. Members whose keys cannot repeat are written directly; anything
/// unusual (extension elements, `value[x]` names that could clash) goes through the `json` tree.
struct FHIRByteWriter {
    var out: [UInt8]
    /// Members written so far into the innermost open object: decides the comma, and whether an
    /// element turned out empty and must be taken back out.
    private var memberCount = 0

    init(out: [UInt8]) {
        self.out = out
    }

    // MARK: Scalars (omitted when absent or empty, like `FHIRObjectWriter.set`)

    mutating func string(_ key: StaticString, _ value: String?) {
        guard let value, !value.isEmpty else { return }
        self.key(key)
        JSONWriter.writeString(value, into: &out)
    }

    mutating func integer(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        self.key(key)
        JSONWriter.writeInteger(value, into: &out)
    }

    mutating func decimal(_ key: StaticString, _ value: FHIRDecimal?) {
        guard let value else { return }
        self.key(key)
        value.write(into: &out)
    }

    // MARK: Elements

    /// An element that is left out when its object has no members.
    mutating func element(_ key: StaticString, _ value: (some FHIRByteWritable)?) {
        guard let value else { return }
        let mark = out.count, outer = memberCount
        self.key(key)
        if !object(value) {
            out.removeLast(out.count - mark)
            memberCount = outer
        }
    }

    /// An element written even when its object is empty (`FHIRObjectWriter.set(_:raw:)`).
    mutating func required(_ key: StaticString, _ value: some FHIRByteWritable) {
        self.key(key)
        object(value)
    }

    /// An array of elements without its empty ones; left out when none remain.
    mutating func elements(_ key: StaticString, _ values: [some FHIRByteWritable]) {
        guard !values.isEmpty else { return }
        let mark = out.count, outer = memberCount
        self.key(key)
        out.append(UInt8(ascii: "["))
        var written = 0
        for value in values {
            let elementMark = out.count
            if written > 0 { out.append(UInt8(ascii: ",")) }
            if object(value) {
                written += 1
            } else {
                out.removeLast(out.count - elementMark)
            }
        }
        if written == 0 {
            out.removeLast(out.count - mark)
            memberCount = outer
        } else {
            out.append(UInt8(ascii: "]"))
        }
    }

    /// A member whose value is already JSON, written as is.
    mutating func raw(_ key: String, _ value: JSONValue) {
        self.key(key)
        JSONWriter().write(value, into: &out)
    }

    /// The members of an object built as a tree: the fallback for elements with extension members.
    mutating func members(of json: JSONValue) {
        guard case .object(let object) = json else { return }
        for (key, value) in object.members { raw(key, value) }
    }

    // MARK: Mechanics

    /// Writes `{members}`; returns whether there were any members.
    @discardableResult
    private mutating func object(_ value: some FHIRByteWritable) -> Bool {
        let outer = memberCount
        memberCount = 0
        out.append(UInt8(ascii: "{"))
        value.writeMembers(to: &self)
        out.append(UInt8(ascii: "}"))
        let isEmpty = memberCount == 0
        memberCount = outer
        return !isEmpty
    }

    /// `"key":` after a comma when needed. Element names are plain ASCII and need no escaping.
    private mutating func key(_ key: StaticString) {
        if memberCount > 0 { out.append(UInt8(ascii: ",")) }
        memberCount += 1
        out.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    private mutating func key(_ key: String) {
        if memberCount > 0 { out.append(UInt8(ascii: ",")) }
        memberCount += 1
        JSONWriter.writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
    }
}
