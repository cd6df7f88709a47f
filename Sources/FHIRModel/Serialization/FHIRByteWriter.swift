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

/// Writes compact FHIR JSON member by member, leaving out empty elements as `FHIRObjectWriter`
/// does. Members whose keys cannot repeat are written directly; anything unusual (extension
/// elements, `value[x]` names that could clash) goes through the `json` tree.
///
/// The bytes go into a buffer of the writer's own (on the stack while it suffices) and reach
/// the caller's array in one copy: an Observation is some ninety keys and strings, and growing
/// an array piece by piece (a uniqueness and a capacity check per piece) cost more than the
/// copying itself.
struct FHIRByteWriter {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Set once the buffer outgrew the stack and lives on the heap.
    private var ownsStorage = false
    private var count = 0
    /// Members written so far into the innermost open object: decides the comma, and whether an
    /// element turned out empty and must be taken back out.
    private var memberCount = 0

    private init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Runs `body` with a writer and appends what it wrote to `out`.
    static func write(appendingTo out: inout [UInt8], _ body: (inout FHIRByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { stack in
            var writer = FHIRByteWriter(base: stack.baseAddress!, capacity: stack.count)
            body(&writer)
            out.append(contentsOf: UnsafeBufferPointer(start: writer.base, count: writer.count))
            if writer.ownsStorage { writer.base.deallocate() }
        }
    }

    // MARK: Scalars (omitted when absent or empty, like `FHIRObjectWriter.set`)

    mutating func string(_ key: StaticString, _ value: String?) {
        guard let value, !value.isEmpty else { return }
        self.key(key)
        quoted(value)
    }

    mutating func integer(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        self.key(key)
        JSONWriter.withIntegerDigits(value) { append($0) }
    }

    mutating func decimal(_ key: StaticString, _ value: FHIRDecimal?) {
        guard let value else { return }
        self.key(key)
        value.withJSONBytes { append($0) }
    }

    // MARK: Elements

    /// A whole document: `{members}`, braces even when there are none.
    mutating func document(_ value: some FHIRByteWritable) {
        object(value)
    }

    /// An element that is left out when its object has no members.
    mutating func element(_ key: StaticString, _ value: (some FHIRByteWritable)?) {
        guard let value else { return }
        let mark = count, outer = memberCount
        self.key(key)
        if !object(value) {
            count = mark
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
        let mark = count, outer = memberCount
        self.key(key)
        append(UInt8(ascii: "["))
        var written = 0
        for value in values {
            let elementMark = count
            if written > 0 { append(UInt8(ascii: ",")) }
            if object(value) {
                written += 1
            } else {
                count = elementMark
            }
        }
        if written == 0 {
            count = mark
            memberCount = outer
        } else {
            append(UInt8(ascii: "]"))
        }
    }

    /// A string member written even when empty (`valueString`, as the tree writes it).
    mutating func rawString(_ key: StaticString, _ value: String) {
        self.key(key)
        quoted(value)
    }

    /// A member whose value is already JSON, written as is.
    mutating func raw(_ key: String, _ value: JSONValue) {
        if memberCount > 0 { append(UInt8(ascii: ",")) }
        memberCount += 1
        quoted(key)
        append(UInt8(ascii: ":"))
        appendJSON(value)
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
        append(UInt8(ascii: "{"))
        value.writeMembers(to: &self)
        append(UInt8(ascii: "}"))
        let isEmpty = memberCount == 0
        memberCount = outer
        return !isEmpty
    }

    /// `"key":` after a comma when needed. Element names are plain ASCII and need no escaping.
    private mutating func key(_ key: StaticString) {
        let length = key.utf8CodeUnitCount
        reserve(length + 4)
        if memberCount > 0 {
            base[count] = UInt8(ascii: ",")
            count += 1
        }
        memberCount += 1
        base[count] = UInt8(ascii: "\"")
        (base + count + 1).initialize(from: key.utf8Start, count: length)
        base[count + 1 + length] = UInt8(ascii: "\"")
        base[count + 2 + length] = UInt8(ascii: ":")
        count += length + 3
    }

    /// A JSON string, spelled as `JSONWriter.writeString` spells it.
    private mutating func quoted(_ value: String) {
        var value = value
        let copied = value.withUTF8 { bytes -> Bool in
            guard !JSONWriter.needsEscaping(bytes) else { return false }
            reserve(bytes.count + 2)
            base[count] = UInt8(ascii: "\"")
            if let source = bytes.baseAddress { (base + count + 1).initialize(from: source, count: bytes.count) }
            base[count + 1 + bytes.count] = UInt8(ascii: "\"")
            count += bytes.count + 2
            return true
        }
        if !copied {
            var escaped: [UInt8] = []
            JSONWriter.writeString(value, into: &escaped)
            escaped.withUnsafeBufferPointer { append($0) }
        }
    }

    /// A JSON value through `JSONWriter`: the uncommon members only.
    private mutating func appendJSON(_ value: JSONValue) {
        var text: [UInt8] = []
        JSONWriter().write(value, into: &text)
        text.withUnsafeBufferPointer { append($0) }
    }

    private mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    /// Room for `extra` more bytes, moving to a heap buffer twice the size when needed.
    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let grown = max(capacity * 2, count + extra)
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        storage.initialize(from: base, count: count)
        if ownsStorage { base.deallocate() }
        base = storage
        capacity = grown
        ownsStorage = true
    }
}
