/// The delimiters a message declares in MSH-1 and MSH-2.
package struct HL7Delimiters: Hashable, Sendable {
    package var field: UInt8
    package var component: UInt8
    package var repetition: UInt8
    package var escape: UInt8
    package var subcomponent: UInt8
    /// v2.7's truncation character (`#`), when MSH-2 has a fifth character.
    package var truncation: UInt8?

    package static let standard = HL7Delimiters(
        field: UInt8(ascii: "|"), component: UInt8(ascii: "^"), repetition: UInt8(ascii: "~"),
        escape: UInt8(ascii: "\\"), subcomponent: UInt8(ascii: "&"), truncation: nil)

    package init(field: UInt8, component: UInt8, repetition: UInt8, escape: UInt8, subcomponent: UInt8, truncation: UInt8? = nil) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
        self.truncation = truncation
    }

    /// MSH-2 as written: component, repetition, escape, subcomponent (and truncation).
    package var encodingCharacters: String {
        var bytes = [component, repetition, escape, subcomponent]
        if let truncation { bytes.append(truncation) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One repetition of a field: its components, each a list of subcomponents (unescaped text).
package struct HL7Repetition: Hashable, Sendable {
    package var components: [[String]]

    package init(components: [[String]]) { self.components = components }

    /// Component `n` (1-based), its first subcomponent; "" when absent.
    package subscript(component n: Int) -> String { self[n, 1] }

    /// Subcomponent `sub` of component `n` (both 1-based); "" when absent.
    package subscript(n: Int, sub: Int) -> String {
        guard n >= 1, n <= components.count else { return "" }
        let subs = components[n - 1]
        guard sub >= 1, sub <= subs.count else { return "" }
        return subs[sub - 1]
    }

    /// The whole component `n` with its subcomponents, for an HD or CWE inside a component.
    package func subcomponents(of n: Int) -> [String] {
        guard n >= 1, n <= components.count else { return [] }
        return components[n - 1]
    }

    package var isEmpty: Bool { components.allSatisfy { $0.allSatisfy(\.isEmpty) } }
}

/// One field: its repetitions (`~`). An absent or empty field has none.
package struct HL7Field: Hashable, Sendable {
    package var repetitions: [HL7Repetition]

    package init(repetitions: [HL7Repetition]) { self.repetitions = repetitions }

    package var first: HL7Repetition { repetitions.first ?? HL7Repetition(components: []) }
    /// Component `n` of the first repetition.
    package subscript(component n: Int) -> String { first[component: n] }
    /// The first component of the first repetition: the value of a simple field.
    package var value: String { first[component: 1] }
    package var isEmpty: Bool { repetitions.allSatisfy(\.isEmpty) }
}

/// One segment. `fields[0]` is field 1, so `field(n)` reads as HL7 numbers fields. In MSH, field 1
/// is the field separator and field 2 the encoding characters, both kept as written.
package struct HL7Segment: Hashable, Sendable {
    package var id: String
    /// This segment's occurrence among segments with the same id (1-based), for ERR-2.
    package var sequence: Int
    package var fields: [HL7Field]

    package init(id: String, sequence: Int, fields: [HL7Field]) {
        self.id = id
        self.sequence = sequence
        self.fields = fields
    }

    package func field(_ n: Int) -> HL7Field {
        guard n >= 1, n <= fields.count else { return HL7Field(repetitions: []) }
        return fields[n - 1]
    }

    package func location(field: Int = 0, repetition: Int = 0, component: Int = 0) -> HL7Location {
        HL7Location(segment: id, sequence: sequence, field: field, repetition: repetition, component: component)
    }
}

/// A parsed ER7 ("pipe and hat") message.
package struct HL7Message: Hashable, Sendable {
    package var delimiters: HL7Delimiters
    package var segments: [HL7Segment]

    package init(delimiters: HL7Delimiters, segments: [HL7Segment]) {
        self.delimiters = delimiters
        self.segments = segments
    }

    /// MSH: the parser guarantees it is the first segment.
    package var header: HL7Segment { segments[0] }
    package var controlID: String { header.field(10).value }
    package var version: String { header.field(12).value }
}

/// Parses ER7 bytes (one message, without MLLP framing) into segments, fields, repetitions,
/// components and subcomponents, with escape sequences resolved.
///
/// Segments end at CR (the standard), LF or CRLF (what files and some senders use). Text is UTF-8;
/// a subcomponent that is not valid UTF-8 is read as ISO 8859-1, the other common MSH-18 charset.
package struct ER7Parser: Sendable {
    /// Bounds that keep a hostile message from costing more than its size suggests.
    package var maxSegments = 10_000
    package var maxFieldsPerSegment = 1_000

    package init() {}

    package func parse(_ text: String) throws(HL7Error) -> HL7Message {
        try parse(Array(text.utf8))
    }

    package func parse(_ bytes: [UInt8]) throws(HL7Error) -> HL7Message {
        let msh = HL7Location(segment: "MSH")
        var start = 0
        // A UTF-8 byte order mark and blank lines before MSH are tolerated.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
        guard bytes.count - start >= 8 else {
            throw HL7Error(.requiredFieldMissing, at: msh, "the message is too short to hold an MSH segment")
        }
        let head = String(decoding: bytes[start..<(start + 3)], as: UTF8.self)
        guard head == "MSH" else {
            if head == "FHS" || head == "BHS" {
                throw HL7Error(.unsupportedMessageType, at: HL7Location(segment: head), "batch and file envelopes are not taken; send one message per frame")
            }
            throw HL7Error(.segmentSequence, at: msh, "the message does not start with an MSH segment")
        }
        let delimiters = try Self.delimiters(bytes, at: start + 3)

        var segments: [HL7Segment] = []
        var occurrences: [String: Int] = [:]
        var index = start
        while index < bytes.count {
            var end = index
            while end < bytes.count, bytes[end] != 0x0D, bytes[end] != 0x0A { end += 1 }
            if end > index {
                guard segments.count < maxSegments else {
                    throw HL7Error(.applicationInternal, at: nil, "more than \(maxSegments) segments")
                }
                let line = bytes[index..<end]
                let segment = try parseSegment(line, delimiters: delimiters, isFirst: segments.isEmpty, occurrences: &occurrences)
                segments.append(segment)
            }
            index = end + 1
        }
        return HL7Message(delimiters: delimiters, segments: segments)
    }

    /// MSH-1 and MSH-2: the field separator and 4 (or, from v2.7, 5) encoding characters, all distinct
    /// and none a letter, digit, space or line end.
    static func delimiters(_ bytes: [UInt8], at index: Int) throws(HL7Error) -> HL7Delimiters {
        let field = bytes[index]
        func usable(_ byte: UInt8) -> Bool {
            byte > 0x20 && byte < 0x7F && !(byte >= 0x30 && byte <= 0x39) && !(byte >= 0x41 && byte <= 0x5A) && !(byte >= 0x61 && byte <= 0x7A)
        }
        guard usable(field) else {
            throw HL7Error(.dataType, at: HL7Location(segment: "MSH", field: 1), "MSH-1 must be a separator character such as '|'")
        }
        var encoding: [UInt8] = []
        var cursor = index + 1
        while cursor < bytes.count, bytes[cursor] != field, bytes[cursor] != 0x0D, bytes[cursor] != 0x0A {
            encoding.append(bytes[cursor])
            cursor += 1
        }
        let location = HL7Location(segment: "MSH", field: 2)
        guard encoding.count == 4 || encoding.count == 5 else {
            throw HL7Error(.dataType, at: location, "MSH-2 has \(encoding.count) encoding characters; expected 4 (^~\\&) or 5 (^~\\&#)")
        }
        guard cursor < bytes.count, bytes[cursor] == field else {
            throw HL7Error(.requiredFieldMissing, at: HL7Location(segment: "MSH", field: 3), "MSH ends after its encoding characters")
        }
        guard encoding.allSatisfy(usable), Set(encoding + [field]).count == encoding.count + 1 else {
            throw HL7Error(.dataType, at: location, "MSH-2 encoding characters must be distinct punctuation, different from MSH-1")
        }
        return HL7Delimiters(
            field: field, component: encoding[0], repetition: encoding[1], escape: encoding[2], subcomponent: encoding[3],
            truncation: encoding.count == 5 ? encoding[4] : nil)
    }

    private func parseSegment(
        _ line: ArraySlice<UInt8>, delimiters: HL7Delimiters, isFirst: Bool, occurrences: inout [String: Int]
    ) throws(HL7Error) -> HL7Segment {
        let idEnd = line.firstIndex(of: delimiters.field) ?? line.endIndex
        let idBytes = line[line.startIndex..<idEnd]
        let id = String(decoding: idBytes, as: UTF8.self)
        let position = HL7Location(segment: id.isEmpty ? "?" : String(id.prefix(3)), sequence: (occurrences[id] ?? 0) + 1)
        guard idBytes.count == 3, idBytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }),
              let firstID = idBytes.first, firstID >= 0x41 else {
            throw HL7Error(.segmentSequence, at: position, "a segment id must be three upper-case letters or digits, starting with a letter")
        }
        if !isFirst, id == "MSH" {
            throw HL7Error(.segmentSequence, at: position, "a second MSH segment: send one message per frame")
        }
        let sequence = (occurrences[id] ?? 0) + 1
        occurrences[id] = sequence

        var fields: [HL7Field] = []
        guard idEnd < line.endIndex else { return HL7Segment(id: id, sequence: sequence, fields: []) }
        var cursor = line.index(after: idEnd)
        var number = 1
        if isFirst {
            // MSH-1 is the separator itself and MSH-2 the encoding characters, neither split nor unescaped.
            fields.append(HL7Field(repetitions: [HL7Repetition(components: [[String(decoding: [delimiters.field], as: UTF8.self)]])]))
            let end = line[cursor...].firstIndex(of: delimiters.field) ?? line.endIndex
            fields.append(HL7Field(repetitions: [HL7Repetition(components: [[String(decoding: line[cursor..<end], as: UTF8.self)]])]))
            number = 3
            cursor = end < line.endIndex ? line.index(after: end) : line.endIndex
            if end == line.endIndex { return HL7Segment(id: id, sequence: sequence, fields: fields) }
        }
        while true {
            guard fields.count < maxFieldsPerSegment else {
                throw HL7Error(.applicationInternal, at: position, "more than \(maxFieldsPerSegment) fields in one segment")
            }
            let end = line[cursor...].firstIndex(of: delimiters.field) ?? line.endIndex
            let location = HL7Location(segment: id, sequence: sequence, field: number)
            fields.append(try parseField(line[cursor..<end], delimiters: delimiters, at: location))
            guard end < line.endIndex else { break }
            cursor = line.index(after: end)
            number += 1
        }
        return HL7Segment(id: id, sequence: sequence, fields: fields)
    }

    private func parseField(_ bytes: ArraySlice<UInt8>, delimiters: HL7Delimiters, at location: HL7Location) throws(HL7Error) -> HL7Field {
        guard !bytes.isEmpty else { return HL7Field(repetitions: []) }
        var repetitions: [HL7Repetition] = []
        var location = location
        for repetition in bytes.split(separator: delimiters.repetition, omittingEmptySubsequences: false) {
            location.repetition = repetitions.count + 1
            location.component = 0
            var components: [[String]] = []
            for component in repetition.split(separator: delimiters.component, omittingEmptySubsequences: false) {
                location.component = components.count + 1
                var subs: [String] = []
                for sub in component.split(separator: delimiters.subcomponent, omittingEmptySubsequences: false) {
                    location.subcomponent = subs.count + 1
                    subs.append(try HL7Escaping.unescape(sub, delimiters: delimiters, at: location))
                }
                location.subcomponent = 0
                components.append(subs)
            }
            repetitions.append(HL7Repetition(components: components))
        }
        return HL7Field(repetitions: repetitions)
    }
}
