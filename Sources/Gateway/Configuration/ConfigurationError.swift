/// One problem in a configuration file, with the file, the key path and, when known, the line.
package struct ConfigurationProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file as the operator named it.
    package var file: String
    /// Dotted key path with indexes, e.g. `store.maxBytes` or `clients.ward-hub.tokenSHA256`;
    /// empty for the document itself.
    package var keyPath: String
    /// 1-based line in the file, when known.
    package var line: Int?
    package var message: String

    package init(file: String, keyPath: String, line: Int? = nil, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    /// `config.yaml: store.maxBytes: expected a size like 512MiB (line 7)`
    package var description: String {
        var text = file + ": "
        if !keyPath.isEmpty { text += keyPath + ": " }
        text += message
        if let line { text += " (line \(line))" }
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
