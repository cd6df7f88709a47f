/// A position in a YAML text: 1-based line and column, the column counted in characters
/// (Unicode scalars), as libyaml counts it.
package struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    package var description: String { "line \(line), column \(column)" }
}

/// One node of a YAML document as the configuration reads it: aliases are already replaced by
/// the node they name, and every node keeps where it started so that problems can name the line.
package enum YAMLNode: Sendable {
    case scalar(Scalar)
    case sequence(Sequence)
    case mapping(Mapping)

    package var mark: YAMLMark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .sequence(let sequence): sequence.mark
        case .mapping(let mapping): mapping.mark
        }
    }

    /// The tag written on the node (`!!str`, resolved by libyaml to `tag:yaml.org,2002:str`);
    /// nil when none was written.
    package var tag: String? {
        switch self {
        case .scalar(let scalar): scalar.tag
        case .sequence(let sequence): sequence.tag
        case .mapping(let mapping): mapping.tag
        }
    }

    /// A scalar: its text exactly as the document gives it, and how it was written. Resolution
    /// (null, booleans, numbers) is the reader's, and only ever of plain scalars: `"true"` and
    /// `'8'` stay text.
    package struct Scalar: Sendable, Hashable {
        package enum Style: Sendable, Hashable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        package var string: String
        package var style: Style
        package var tag: String?
        package var mark: YAMLMark

        package init(string: String, style: Style, tag: String? = nil, mark: YAMLMark) {
            self.string = string
            self.style = style
            self.tag = tag
            self.mark = mark
        }
    }

    package struct Sequence: Sendable, RandomAccessCollection {
        package var items: [YAMLNode]
        package var tag: String?
        package var mark: YAMLMark

        package var startIndex: Int { items.startIndex }
        package var endIndex: Int { items.endIndex }
        package subscript(position: Int) -> YAMLNode { items[position] }
    }

    /// Key-value pairs in document order; scalar keys are unique by their text (the loader
    /// refuses a repeated one, however it is quoted).
    package struct Mapping: Sendable, RandomAccessCollection {
        package struct Pair: Sendable {
            package var key: YAMLNode
            package var value: YAMLNode
        }

        package var pairs: [Pair]
        package var tag: String?
        package var mark: YAMLMark

        package var startIndex: Int { pairs.startIndex }
        package var endIndex: Int { pairs.endIndex }
        package subscript(position: Int) -> (key: YAMLNode, value: YAMLNode) { (pairs[position].key, pairs[position].value) }
    }
}
