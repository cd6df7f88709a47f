public import JSONQuery

/// FHIR R4 `OperationOutcome`: the server's explanation of an error.
public struct OperationOutcome: Hashable, Sendable, FHIRJSONRepresentable {
    public var id: String?
    public var issue: [Issue]

    public init(id: String? = nil, issue: [Issue]) {
        self.id = id
        self.issue = issue
    }

    public struct Issue: Hashable, Sendable, FHIRJSONRepresentable {
        /// fatal | error | warning | information
        public var severity: String
        /// An `IssueType` code such as `invalid`, `not-found`, `conflict`.
        public var code: String
        public var details: CodeableConcept?
        public var diagnostics: String?
        public var expression: [String]

        public init(severity: String, code: String, details: CodeableConcept? = nil, diagnostics: String? = nil, expression: [String] = []) {
            self.severity = severity
            self.code = code
            self.details = details
            self.diagnostics = diagnostics
            self.expression = expression
        }

        public var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("severity", severity)
            w.set("code", code)
            w.set("details", details)
            w.set("diagnostics", diagnostics)
            w.set("expression", strings: expression)
            return w.json
        }

        public init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            severity = try r.requiredString("severity")
            code = try r.requiredString("code")
            details = try r.element("details", as: CodeableConcept.self)
            diagnostics = try r.string("diagnostics")
            expression = try r.strings("expression")
        }
    }

    /// One line per issue, for logs and dead-letter reasons.
    public var summary: String {
        issue.map { issue in
            var line = "\(issue.severity) \(issue.code)"
            if let text = issue.diagnostics ?? issue.details?.text { line += ": \(text)" }
            if !issue.expression.isEmpty { line += " at \(issue.expression.joined(separator: ", "))" }
            return line
        }.joined(separator: "\n")
    }

    public var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "OperationOutcome")
        w.set("id", id)
        w.set("issue", issue)
        return w.json
    }

    public init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "OperationOutcome" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected OperationOutcome, found \(type)")
        }
        id = try r.string("id")
        issue = try r.array("issue", of: Issue.self)
    }
}
