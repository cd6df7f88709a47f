/// One problem found while loading a mapping template file.
///
/// It names the file, the sub-template's index and type, the field and, for an expression, the
/// column inside it, so a user can find the fault in a file of dozens of templates.
package struct TemplateProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file (or other source name) the template came from.
    package var source: String
    /// 0-based index of the sub-template in the collection's `template` array; nil for the root.
    package var templateIndex: Int?
    /// The sub-template's `templateType` as written, when known.
    package var templateType: String?
    /// The member path inside the sub-template, e.g. `values[1].valueExpression`.
    package var field: String?
    /// 1-based line of the offending template object in the file, when known.
    package var line: Int?
    /// 1-based column inside the expression, for expression errors.
    package var expressionColumn: Int?
    package var message: String

    package init(
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

    package var description: String {
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
package struct TemplateLoadError: Error, Sendable, CustomStringConvertible {
    package var problems: [TemplateProblem]

    package init(problems: [TemplateProblem]) {
        self.problems = problems
    }

    package var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
