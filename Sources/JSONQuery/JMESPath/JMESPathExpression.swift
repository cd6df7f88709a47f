/// A compiled JMESPath expression (https://jmespath.org/specification.html).
///
/// Compile once at load time, evaluate per message: `init` lexes, parses and resolves function
/// names and arities, so `evaluate` only walks the syntax tree.
package struct JMESPathExpression: Sendable {
    package let source: String
    let root: JMESPath.Node

    /// Compiles `expression`. Syntax errors, unknown functions and wrong argument counts are
    /// reported here, with the column where the problem was found.
    package init(_ expression: String, functions: JMESPathFunctions = .standard) throws(JMESPathError) {
        self.source = expression
        var parser = try JMESPath.Parser(expression, functions: functions)
        self.root = try parser.parse()
    }

    /// Evaluates against `document`. Type errors in function arguments and invalid values
    /// (a slice step of zero, MedTech range errors) are thrown here.
    package func evaluate(_ document: JSONValue) throws(JMESPathError) -> JSONValue {
        try JMESPath.Interpreter.evaluate(root, document)
    }

    /// True when the expression's result is a projection (list/slice/object/filter projection or
    /// flatten at the top, or a pipe/subexpression whose result is one). MedTech uses it: a
    /// projection result yields one template match per element, any other result exactly one match.
    package var isProjection: Bool { root.isProjection }
}

/// The set of functions an expression may call. `.standard` is the JMESPath specification's
/// built-ins; `.medTech` adds the eight functions the Azure MedTech service registers (`add`,
/// `subtract`, `multiply`, `divide`, `pow`, `insertString`, `fromUnixTimestamp`,
/// `fromUnixTimestampMs`). Calling a function outside the set is an `unknown-function` error.
package struct JMESPathFunctions: Hashable, Sendable {
    let includesMedTech: Bool

    package static let standard = JMESPathFunctions(includesMedTech: false)
    package static let medTech = JMESPathFunctions(includesMedTech: true)

    func lookup(_ name: String) -> JMESPath.Function? {
        guard let function = JMESPath.Function(rawValue: name) else { return nil }
        if function.isMedTech && !includesMedTech { return nil }
        return function
    }
}

/// Namespace for the engine's internal types (lexer, parser, tree, interpreter, functions).
enum JMESPath {}
