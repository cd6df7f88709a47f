/// One problem found while loading a mapping template file.
///
/// It names the file, the sub-template's index and type, the field and, for an expression, the
/// column inside it, so a user can find the fault in a file of dozens of templates.
public struct TemplateProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file (or other source name) the template came from.
    public var source: String
    /// 0-based index of the sub-template in the collection's `template` array; nil for the root.
    public var templateIndex: Int?
    /// The sub-template's `templateType` as written, when known.
    public var templateType: String?
    /// The member path inside the sub-template, e.g. `values[1].valueExpression`.
    public var field: String?
    /// 1-based line of the offending template object in the file, when known.
    public var line: Int?
    /// 1-based column inside the expression, for expression errors.
    public var expressionColumn: Int?
    public var message: String

    public init(
        source: String, templateIndex: Int? = nil, templateType: String? = nil, field: String? = nil,
        line: Int? = nil, expressionColumn: Int? = nil, message: String
    ) {
        self.source = source
        self.templateIndex = templateIndex
        self.templateType = templateType
        self.field = field
        self.line = line
        self.expressionColumn = expressionColumn
        self.message = message
    }

    public var description: String {
        var location = source
        if let line { location += ":\(line)" }
        if let templateIndex {
            location += " template[\(templateIndex)]"
            if let templateType { location += " (\(templateType))" }
        }
        if let field { location += " \(field)" }
        if let expressionColumn { location += " at column \(expressionColumn)" }
        return "\(location): \(message)"
    }
}

/// A template file that cannot be used, with every problem found (not just the first).
public struct TemplateLoadError: Error, Sendable, CustomStringConvertible {
    public var problems: [TemplateProblem]

    public init(problems: [TemplateProblem]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
