import CYAML

/// Why a YAML text could not be loaded, and where: libyaml's own syntax errors with its mark,
/// and the loader's (a repeated key, an unknown alias, a bound exceeded).
package struct YAMLError: Error, Sendable, CustomStringConvertible {
    package var message: String
    /// Where the problem is; nil when it is the text as a whole (its size).
    package var mark: YAMLMark?
    /// The key path of the node concerned, when the loader knows it (a repeated key).
    package var keyPath: String

    package init(_ message: String, at mark: YAMLMark?, keyPath: String = "") {
        self.message = message
        self.mark = mark
        self.keyPath = keyPath
    }

    package var description: String {
        var text = keyPath.isEmpty ? message : keyPath + ": " + message
        if let mark { text += " (\(mark))" }
        return text
    }
}

/// Loads one YAML document into `YAMLNode`s through libyaml's event parser.
///
/// The text is configuration an operator wrote: it may be wrong, so every refusal names where,
/// and it is bounded like any input: its size, its nesting, and its node count with aliases
/// counted each time they are used, so that a few lines of nested aliases ("billion laughs")
/// cannot expand into more nodes than a real configuration has.
package enum YAMLLoader {
    package static let maximumBytes = 1 << 20
    package static let maximumDepth = 64
    package static let maximumNodes = 100_000

    /// The document's root; nil when the text has no document (empty, or only comments).
    /// A second document is refused, as is a key given twice in one mapping.
    package static func load(_ text: String) throws(YAMLError) -> YAMLNode? {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumBytes else {
            throw YAMLError("larger than \(maximumBytes >> 20) MiB; a configuration is far smaller", at: nil)
        }
        if bytes.isEmpty { return nil }
        // libyaml keeps a pointer to the parser inside it, so the parser must not move.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw YAMLError("out of memory", at: nil) }
        defer { yaml_parser_delete(parser) }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(YAMLError) -> YAMLNode? in
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(parser: parser, bytes: buffer)
            return try builder.run()
        }
    }
}

/// Turns the event stream into a tree with an explicit stack, so that nesting costs no C stack.
private struct TreeBuilder {
    let parser: UnsafeMutablePointer<yaml_parser_t>
    let bytes: UnsafeBufferPointer<UInt8>

    /// An open sequence or mapping, collecting its children.
    struct Frame {
        enum Kind { case sequence, mapping }
        var kind: Kind
        var tag: String?
        var anchor: String?
        var mark: YAMLMark
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Mapping.Pair] = []
        /// A mapping's key whose value is being read.
        var pendingKey: YAMLNode?
        /// Where each scalar key of a mapping was first given.
        var keys: [String: YAMLMark] = [:]
        /// Nodes in this subtree so far, aliases counted with everything they expand to.
        var size = 1
    }

    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var nodes = 0
    var root: YAMLNode?

    init(parser: UnsafeMutablePointer<yaml_parser_t>, bytes: UnsafeBufferPointer<UInt8>) {
        self.parser = parser
        self.bytes = bytes
    }

    mutating func run() throws(YAMLError) -> YAMLNode? {
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer { event.deallocate() }
        var documents = 0
        while true {
            guard yaml_parser_parse(parser, event) == 1 else { throw libyamlError() }
            defer { yaml_event_delete(event) }
            let mark = YAMLMark(event.pointee.start_mark)
            switch event.pointee.type {
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                // One file, one configuration: a second document would otherwise be ignored unseen.
                if documents > 1 { throw YAMLError("expected a single document, but found another one", at: mark) }
            case YAML_SCALAR_EVENT:
                let data = event.pointee.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
                try count(1, at: mark, alias: false)
                let scalar = YAMLNode.Scalar(string: text, style: Self.style(data.style), tag: Self.text(data.tag), mark: mark)
                try complete(.scalar(scalar), size: 1, anchor: Self.text(data.anchor))
            case YAML_ALIAS_EVENT:
                let name = Self.text(event.pointee.data.alias.anchor) ?? ""
                guard let target = anchors[name] else { throw YAMLError("found undefined alias '\(name)'", at: mark) }
                try count(target.size, at: mark, alias: true)
                try complete(target.node, size: target.size, anchor: nil)
            case YAML_SEQUENCE_START_EVENT:
                let data = event.pointee.data.sequence_start
                try open(Frame(kind: .sequence, tag: Self.text(data.tag), anchor: Self.text(data.anchor), mark: mark))
            case YAML_MAPPING_START_EVENT:
                let data = event.pointee.data.mapping_start
                try open(Frame(kind: .mapping, tag: Self.text(data.tag), anchor: Self.text(data.anchor), mark: mark))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { throw YAMLError("unbalanced collection end", at: mark) }
                let node: YAMLNode = switch frame.kind {
                case .sequence: .sequence(YAMLNode.Sequence(items: frame.items, tag: frame.tag, mark: frame.mark))
                case .mapping: .mapping(YAMLNode.Mapping(pairs: frame.pairs, tag: frame.tag, mark: frame.mark))
                }
                try complete(node, size: frame.size, anchor: frame.anchor)
            default:
                break
            }
        }
    }

    mutating func open(_ frame: Frame) throws(YAMLError) {
        guard stack.count < YAMLLoader.maximumDepth else {
            throw YAMLError("nested deeper than \(YAMLLoader.maximumDepth) levels", at: frame.mark)
        }
        try count(1, at: frame.mark, alias: false)
        stack.append(frame)
    }

    mutating func count(_ added: Int, at mark: YAMLMark, alias: Bool) throws(YAMLError) {
        nodes += added
        guard nodes <= YAMLLoader.maximumNodes else {
            throw YAMLError(alias
                ? "aliases expand the document beyond \(YAMLLoader.maximumNodes) nodes"
                : "more than \(YAMLLoader.maximumNodes) nodes", at: mark)
        }
    }

    /// Hands a finished node to the collection around it, or makes it the root.
    mutating func complete(_ node: YAMLNode, size: Int, anchor: String?) throws(YAMLError) {
        // A later anchor of the same name replaces the earlier one, as YAML has it.
        if let anchor { anchors[anchor] = (node, size) }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].size += size
        switch stack[top].kind {
        case .sequence:
            stack[top].items.append(node)
        case .mapping:
            if let key = stack[top].pendingKey {
                stack[top].pairs.append(YAMLNode.Mapping.Pair(key: key, value: node))
                stack[top].pendingKey = nil
                return
            }
            if case .scalar(let key) = node {
                if let first = stack[top].keys[key.string] {
                    throw YAMLError("duplicate key; first given at \(first)", at: key.mark, keyPath: keyPath(appending: key.string))
                }
                stack[top].keys[key.string] = key.mark
            }
            stack[top].pendingKey = node
        }
    }

    /// The dotted path of the open collections, `[i]` for list items, then `key`.
    func keyPath(appending key: String) -> String {
        var path = ""
        func append(_ component: String) { path = path.isEmpty ? component : path + "." + component }
        for frame in stack.dropLast() {
            switch frame.kind {
            case .sequence: path += "[\(frame.items.count)]"
            case .mapping:
                if case .scalar(let name) = frame.pendingKey { append(name.string) } else { append("?") }
            }
        }
        append(key)
        return path
    }

    func libyamlError() -> YAMLError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown problem"
        switch state.error {
        case YAML_MEMORY_ERROR:
            return YAMLError("out of memory", at: nil)
        case YAML_READER_ERROR:
            var message = problem
            if state.problem_value >= 0 {
                let hex = String(state.problem_value, radix: 16, uppercase: true)
                message += " (U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + ")"
            }
            return YAMLError(message, at: mark(atOffset: Int(state.problem_offset)))
        default:
            var message = problem
            if let context = state.context {
                message += " " + String(cString: context) + " started at \(YAMLMark(state.context_mark))"
            }
            return YAMLError(message, at: YAMLMark(state.problem_mark))
        }
    }

    /// Reader errors carry a byte offset only; line and column as libyaml would count them.
    func mark(atOffset offset: Int) -> YAMLMark {
        var line = 1, column = 1
        var previous: UInt8 = 0
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                // CRLF is one break.
                if !(byte == UInt8(ascii: "\n") && previous == UInt8(ascii: "\r")) { line += 1 }
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            previous = byte
        }
        return YAMLMark(line: line, column: column)
    }

    static func style(_ style: yaml_scalar_style_t) -> YAMLNode.Scalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }

    static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}

extension YAMLMark {
    /// libyaml counts lines and columns from 0.
    init(_ mark: yaml_mark_t) {
        self.init(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}
