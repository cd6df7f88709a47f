import YAML

/// One problem in a configuration file, with the file, the key path and, when known, the line.
package struct ConfigurationProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file as the operator named it.
    package var file: String
    /// Dotted key path with indexes, e.g. `store.maxBytes` or `clients.ward-hub.tokenSHA256`;
    /// empty for the document itself.
    package var keyPath: String
    /// 1-based line in the file, when known.
    package var line: Int?
    /// 1-based column, given where the YAML itself is wrong (a syntax error, a repeated key).
    package var column: Int?
    package var message: String

    package init(file: String, keyPath: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.message = message
    }

    /// A text that is not YAML the loader accepts, at libyaml's (or the loader's) mark.
    init(file: String, yaml error: YAMLError) {
        self.init(file: file, keyPath: error.keyPath, line: error.mark?.line, column: error.mark?.column, message: "not valid YAML: " + error.message)
    }

    /// `config.yaml: store.maxBytes: expected a size like 512MiB (line 7)`, and
    /// `config.yaml: not valid YAML: did not find expected ',' or ']' ... (line 2, column 1)`.
    package var description: String {
        var text = file + ": "
        if !keyPath.isEmpty { text += keyPath + ": " }
        text += message
        if let line { text += column.map { " (line \(line), column \($0))" } ?? " (line \(line))" }
        return text
    }
}

/// A configuration that cannot be used, with every problem found, not just the first.
package struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    package var problems: [ConfigurationProblem]

    package init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    package var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
