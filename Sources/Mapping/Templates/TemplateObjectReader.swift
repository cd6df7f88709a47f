import JSONQuery

/// Where in a template file an object being read sits: the file, the sub-template and its line.
/// Every problem a reader records carries this location plus the member path.
struct TemplateLocation: Sendable {
    var source: String
    var templateIndex: Int?
    var templateType: String?
    var line: Int?

    func problem(field: String?, expressionColumn: Int? = nil, _ message: String) -> TemplateProblem {
        TemplateProblem(
            source: source, templateIndex: templateIndex, templateType: templateType, field: field,
            line: line, expressionColumn: expressionColumn, message: message)
    }
}

/// Reads one template JSON object strictly, the way upstream's Json.NET deserialisation with
/// `MissingMemberHandling.Error` does, but collecting every problem instead of stopping:
///
/// - member names match case-insensitively (an exact match wins over a case-folded one);
/// - a missing required member, or one that is `null`, is a problem;
/// - every member must be read by the caller; `finish()` reports the rest as unknown;
/// - booleans accept `true` and `"true"`, integers accept `60` and `"60"` (as Json.NET does).
///
/// Member names are given in their JSON spelling (`deviceIdExpression`); messages name them in
/// upstream's PascalCase (`Required property 'DeviceIdExpression' not found in JSON.`) so they
/// read like the errors users find in MedTech documentation.
struct TemplateObjectReader {
    let location: TemplateLocation
    /// Member path of this object inside the sub-template, e.g. `values[1]`; empty for the body.
    let path: String
    /// Upstream's type name for unknown-member messages, e.g. `JsonPathContentTemplate`.
    let typeName: String
    private(set) var problems: [TemplateProblem] = []
    private let object: JSONObject
    private var used: [Bool]
    /// False when the value given was not an object; getters then return nil quietly.
    let isObject: Bool

    init(_ value: JSONValue, typeName: String, location: TemplateLocation, path: String = "") {
        self.location = location
        self.path = path
        self.typeName = typeName
        if case .object(let object) = value {
            self.object = object
            self.isObject = true
            self.used = Array(repeating: false, count: object.count)
        } else {
            self.object = JSONObject()
            self.isObject = false
            self.used = []
            problems.append(location.problem(
                field: path.isEmpty ? nil : path,
                "Expected a JSON object for \(typeName), found \(value.typeName)."))
        }
    }

    /// The path of a member of this object, for problems.
    func fieldPath(_ member: String) -> String {
        path.isEmpty ? member : "\(path).\(member)"
    }

    mutating func report(_ member: String?, expressionColumn: Int? = nil, _ message: String) {
        problems.append(location.problem(
            field: member.map(fieldPath) ?? (path.isEmpty ? nil : path),
            expressionColumn: expressionColumn, message))
    }

    /// Takes problems found by a nested reader or by the caller into this reader's list.
    mutating func absorb(_ more: [TemplateProblem]) {
        problems.append(contentsOf: more)
    }

    // MARK: Member lookup

    /// The member's value (any JSON type, `null` included) or nil when absent. Marks it read.
    /// When several members fold to the same name, the exact spelling wins and the others are
    /// reported, since a file saying both `typeName` and `TypeName` is ambiguous.
    mutating func member(_ name: String) -> JSONValue? {
        var found: Int?
        var exact = false
        for (i, key) in object.keys.enumerated() where key.utf8.count == name.utf8.count {
            if key == name {
                if found != nil, !exact { report(name, "Member '\(name)' is given more than once (names are case-insensitive).") }
                found = i
                exact = true
                used[i] = true
            } else if Self.equalsIgnoringASCIICase(key, name) {
                if found != nil { report(name, "Member '\(name)' is given more than once (names are case-insensitive).") }
                if !exact { found = i }
                used[i] = true
            }
        }
        return found.map { object.values[$0] }
    }

    /// True when the member is present (in any case spelling); does not mark it read.
    func has(_ name: String) -> Bool {
        object.keys.contains { Self.equalsIgnoringASCIICase($0, name) }
    }

    /// Marks a member as read without using it (members a template kind tolerates and ignores).
    mutating func ignore(_ name: String) {
        _ = member(name)
    }

    /// A present, non-null member; records the upstream "required" problem otherwise.
    mutating func required(_ name: String) -> JSONValue? {
        switch member(name) {
        case nil:
            report(name, "Required property '\(Self.pascalCase(name))' not found in JSON.")
            return nil
        case .null?:
            report(name, "Required property '\(Self.pascalCase(name))' expects a value but got null.")
            return nil
        case let value?:
            return value
        }
    }

    /// A present member, `null` treated as absent.
    mutating func optional(_ name: String) -> JSONValue? {
        switch member(name) {
        case nil, .null?: nil
        case let value?: value
        }
    }

    // MARK: Typed getters

    mutating func requiredString(_ name: String) -> String? {
        required(name).flatMap { string($0, member: name) }
    }

    mutating func optionalString(_ name: String) -> String? {
        optional(name).flatMap { string($0, member: name) }
    }

    mutating func requiredInt(_ name: String) -> Int? {
        required(name).flatMap { int($0, member: name) }
    }

    mutating func optionalInt(_ name: String) -> Int? {
        optional(name).flatMap { int($0, member: name) }
    }

    mutating func requiredBool(_ name: String) -> Bool? {
        required(name).flatMap { bool($0, member: name) }
    }

    /// An optional boolean with its default; a malformed value is reported and yields the default.
    mutating func bool(_ name: String, default defaultValue: Bool) -> Bool {
        optional(name).flatMap { bool($0, member: name) } ?? defaultValue
    }

    mutating func optionalDouble(_ name: String) -> Double? {
        optional(name).flatMap { double($0, member: name) }
    }

    /// The elements of an array member; a non-array is reported.
    mutating func requiredArray(_ name: String) -> [JSONValue]? {
        required(name).flatMap { array($0, member: name) }
    }

    mutating func optionalArray(_ name: String) -> [JSONValue]? {
        optional(name).flatMap { array($0, member: name) }
    }

    /// A reader for a nested object member; the caller reads it, calls `finish()` and absorbs
    /// its problems.
    func nested(_ value: JSONValue, member: String, typeName: String) -> TemplateObjectReader {
        TemplateObjectReader(value, typeName: typeName, location: location, path: fieldPath(member))
    }

    /// Reports every member that no getter asked for.
    mutating func finish() {
        guard isObject else { return }
        for (i, key) in object.keys.enumerated() where !used[i] {
            problems.append(location.problem(
                field: fieldPath(key),
                "Could not find member '\(key)' on object of type '\(typeName)'."))
        }
    }

    // MARK: Conversions

    mutating func string(_ value: JSONValue, member: String) -> String? {
        if case .string(let s) = value { return s }
        report(member, "Expected a string for '\(member)', found \(value.typeName).")
        return nil
    }

    mutating func int(_ value: JSONValue, member: String) -> Int? {
        switch value {
        case .int(let i) where i >= Int64(Int.min) && i <= Int64(Int.max):
            return Int(i)
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15:
            return Int(d)
        case .string(let s):
            if let i = Int(Self.trimmingASCIIWhitespace(s)) { return i }
        default:
            break
        }
        report(member, "Expected an integer for '\(member)', found \(value.typeName).")
        return nil
    }

    mutating func double(_ value: JSONValue, member: String) -> Double? {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s):
            if let d = Double(Self.trimmingASCIIWhitespace(s)), d.isFinite { return d }
        default: break
        }
        report(member, "Expected a number for '\(member)', found \(value.typeName).")
        return nil
    }

    mutating func bool(_ value: JSONValue, member: String) -> Bool? {
        switch value {
        case .bool(let b): return b
        case .string(let s):
            let trimmed = Self.trimmingASCIIWhitespace(s)
            if Self.equalsIgnoringASCIICase(trimmed, "true") { return true }
            if Self.equalsIgnoringASCIICase(trimmed, "false") { return false }
        default: break
        }
        report(member, "Expected true or false for '\(member)', found \(value.typeName).")
        return nil
    }

    mutating func array(_ value: JSONValue, member: String) -> [JSONValue]? {
        if case .array(let a) = value { return a }
        report(member, "Expected an array for '\(member)', found \(value.typeName).")
        return nil
    }

    // MARK: Names

    static func trimmingASCIIWhitespace(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = text.firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = text.lastIndex(where: { !isSpace($0) }) ?? start
        return text[start...end]
    }

    static func equalsIgnoringASCIICase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let a = a.utf8, b = b.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            guard lowerASCII(x) == lowerASCII(y) else { return false }
        }
        return true
    }

    private static func lowerASCII(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// `deviceIdExpression` -> `DeviceIdExpression`, the C# property name upstream reports.
    static func pascalCase(_ name: String) -> String {
        guard let first = name.first else { return name }
        return first.uppercased() + name.dropFirst()
    }
}

/// Finds the 1-based lines of the sub-templates of a collection file
/// (`{"templateType": ..., "template": [ {"templateType": ..., "template": {...}}, ... ]}`),
/// so load problems can point at the offending object the way upstream does. The parsed value
/// model keeps no positions; this scan reads only the first three levels of an already parsed
/// (hence well-formed) text and skips everything deeper, and any comments, without recursion.
enum SubTemplateLines {
    struct Entry: Equatable {
        /// Line of the sub-template's wrapper object.
        var element: Int
        /// Line where the value of its `template` member starts, when present.
        var body: Int?
        /// The line problems should name: the body, else the wrapper.
        var best: Int { body ?? element }
    }

    static func scan(_ text: String) -> [Entry] {
        var scanner = Scanner(bytes: Array(text.utf8))
        return scanner.collection()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func collection() -> [Entry] {
            var entries: [Entry] = []
            skipWhitespace()
            guard current == UInt8(ascii: "{") else { return [] }
            index += 1
            forEachMember { scanner, isTemplate in
                if isTemplate, scanner.current == UInt8(ascii: "[") {
                    entries = scanner.elements()
                } else {
                    scanner.skipValue()
                }
            }
            return entries
        }

        private mutating func elements() -> [Entry] {
            var entries: [Entry] = []
            index += 1  // [
            while true {
                skipWhitespace()
                guard let byte = current else { return entries }
                if byte == UInt8(ascii: "]") { index += 1; return entries }
                if byte == UInt8(ascii: ",") { index += 1; continue }
                var entry = Entry(element: line, body: nil)
                if byte == UInt8(ascii: "{") {
                    index += 1
                    forEachMember { scanner, isTemplate in
                        if isTemplate { entry.body = scanner.line }
                        scanner.skipValue()
                    }
                } else {
                    skipValue()
                }
                entries.append(entry)
            }
        }

        /// Calls `body` with the scanner at the start of each member value of the object whose
        /// `{` was just consumed; `isTemplate` says whether the member is named `template`.
        private mutating func forEachMember(_ body: (inout Scanner, Bool) -> Void) {
            while true {
                skipWhitespace()
                guard let byte = current else { return }
                if byte == UInt8(ascii: "}") { index += 1; return }
                if byte == UInt8(ascii: ",") { index += 1; continue }
                guard byte == UInt8(ascii: "\"") else { index += 1; continue }
                let start = index + 1
                skipString()
                let key = bytes[start..<max(start, index - 1)]
                skipWhitespace()
                if current == UInt8(ascii: ":") { index += 1 }
                skipWhitespace()
                let isTemplate = TemplateObjectReader.equalsIgnoringASCIICase(
                    String(decoding: key, as: UTF8.self), "template")
                let before = index
                body(&self, isTemplate)
                if index == before { index += 1 }  // always make progress
            }
        }

        private mutating func skipWhitespace() {
            while let byte = current {
                if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                    if byte == 0x0A { line += 1 }
                    index += 1
                } else if !skipComment() {
                    return
                }
            }
        }

        /// Skips a `//` or `/* */` comment at `index` (templates may have them, as in Json.NET),
        /// counting its lines; false when none starts there. Outside strings, a parsed template
        /// has a `/` only as the start of a comment.
        private mutating func skipComment() -> Bool {
            guard current == UInt8(ascii: "/"), index + 1 < bytes.count else { return false }
            switch bytes[index + 1] {
            case UInt8(ascii: "/"):
                index += 2
                while let byte = current, byte != 0x0A { index += 1 }
            case UInt8(ascii: "*"):
                index += 2
                while let byte = current {
                    if byte == UInt8(ascii: "*"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                        index += 2
                        break
                    }
                    if byte == 0x0A { line += 1 }
                    index += 1
                }
            default:
                return false
            }
            return true
        }

        /// Skips a string whose opening quote is at `index`.
        private mutating func skipString() {
            index += 1
            while let byte = current {
                index += 1
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { return }
            }
        }

        /// Skips one value of any depth by counting brackets outside strings.
        private mutating func skipValue() {
            var depth = 0
            while let byte = current {
                switch byte {
                case UInt8(ascii: "\""):
                    skipString()
                    if depth == 0 { return }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return }
                    depth -= 1
                    if depth == 0 { index += 1; return }
                case UInt8(ascii: ","):
                    if depth == 0 { return }
                case UInt8(ascii: "/"):
                    if skipComment() { continue }
                case 0x0A:
                    line += 1
                default:
                    break
                }
                index += 1
            }
        }
    }
}
