/// A compiled JSONPath expression. Parse once (at template load), select many times.
///
/// Two dialects share the value model, the regex engine and the normalized-path output:
/// - `rfc9535`: RFC 9535 exactly, including the function extensions and I-Regexp.
/// - `jsonNet`: Newtonsoft Json.NET `SelectToken`, the dialect MedTech / IoMT templates are written
///   in (`$..[?(@heartRate)]`, `$.SystemProperties.iothub-connection-device-id`, `=~ /re/i`).
package struct JSONPathExpression: Sendable {
    package enum Dialect: String, Sendable {
        case rfc9535
        case jsonNet = "jsonnet"
    }

    package let source: String
    package let dialect: Dialect
    private let compiled: Compiled

    private enum Compiled: Sendable {
        case rfc9535(RFCFilterQuery)
        case jsonNet(NetPath)
    }

    package init(_ expression: String, dialect: Dialect) throws(JSONPathError) {
        self.source = expression
        self.dialect = dialect
        switch dialect {
        case .rfc9535:
            var parser = RFCParser(expression)
            compiled = .rfc9535(try parser.parseQuery())
        case .jsonNet:
            var parser = NetParser(expression)
            compiled = .jsonNet(try parser.parseMain())
        }
    }

    /// The selected nodes' values in document order; empty when nothing matches.
    package func select(_ document: JSONValue) throws(JSONPathError) -> [JSONValue] {
        // Names-and-indexes paths (most template expressions) walk the document directly.
        switch compiled {
        case .rfc9535(let query):
            let evaluator = RFCEvaluator(root: document)
            if let steps = query.singular {
                guard let value = evaluator.singular(steps, from: document) else { return [] }
                return [value]
            }
            return evaluator.select(query.segments, from: document, at: NoLocation()).map(\.value)
        case .jsonNet(let path):
            if let names = path.simpleNames {
                var value = document
                for name in names {
                    guard case .object(let object) = value, let i = object.exactIndex(of: name) else { return [] }
                    value = object.values[i]
                }
                return [value]
            }
            if let names = path.scanExistsNames {
                var selected: [JSONValue] = []
                if NetEvaluator.scanExists(names, in: document, into: &selected) { return selected }
            }
            return try NetEvaluator(root: document).select(path, from: document, at: NoLocation()).map(\.value)
        }
    }

    /// Like `select`, with the RFC 9535 normalized path of each node (`$['a'][0]`).
    package func selectWithPaths(_ document: JSONValue) throws(JSONPathError) -> [(path: String, value: JSONValue)] {
        let nodes: [LocatedNode<PathLocation>]
        switch compiled {
        case .rfc9535(let query):
            nodes = RFCEvaluator(root: document).select(query.segments, from: document, at: PathLocation.root)
        case .jsonNet(let path):
            nodes = try NetEvaluator(root: document).select(path, from: document, at: PathLocation.root)
        }
        return nodes.map { (path: $0.location.normalizedPath, value: $0.value) }
    }
}

/// Why an expression could not be compiled or evaluated.
package struct JSONPathError: Error, Sendable, CustomStringConvertible {
    /// Why, in words.
    package let message: String
    /// 1-based column (in Unicode scalars) of the offending character, for syntax errors.
    package let column: Int?

    init(_ message: String, column: Int? = nil) {
        self.message = message
        self.column = column
    }

    package var description: String {
        if let column { return "JSONPath syntax error at column \(column): \(message)" }
        return "JSONPath error: \(message)"
    }
}
