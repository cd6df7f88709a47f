package import JSONQuery

/// FHIR R4 `OperationOutcome`: the server's explanation of an error.
package struct OperationOutcome: Hashable, Sendable, FHIRJSONRepresentable {
    package var id: String?
    package var issue: [Issue]

    package init(id: String? = nil, issue: [Issue]) {
        self.id = id
        self.issue = issue
    }

    package struct Issue: Hashable, Sendable, FHIRJSONRepresentable {
        /// fatal | error | warning | information
        package var severity: String
        /// An `IssueType` code such as `invalid`, `not-found`, `conflict`.
        package var code: String
        package var details: CodeableConcept?
        package var diagnostics: String?
        package var expression: [String]

        package init(severity: String, code: String, details: CodeableConcept? = nil, diagnostics: String? = nil, expression: [String] = []) {
            self.severity = severity
            self.code = code
            self.details = details
            self.diagnostics = diagnostics
            self.expression = expression
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("severity", severity)
            w.set("code", code)
            w.set("details", details)
            w.set("diagnostics", diagnostics)
            w.set("expression", strings: expression)
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            severity = try r.requiredString("severity")
            code = try r.requiredString("code")
            details = try r.element("details", as: CodeableConcept.self)
            diagnostics = try r.string("diagnostics")
            expression = try r.strings("expression")
        }
    }

    /// One line per issue, for logs and dead-letter reasons.
    package var summary: String {
        issue.map { issue in
            var line = "\(issue.severity) \(issue.code)"
            if let text = issue.diagnostics ?? issue.details?.text { line += ": \(text)" }
            if !issue.expression.isEmpty { line += " at \(issue.expression.joined(separator: ", "))" }
            return line
        }.joined(separator: "\n")
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "OperationOutcome")
        w.set("id", id)
        w.set("issue", issue)
        return w.json
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "OperationOutcome" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected OperationOutcome, found \(type)")
        }
        id = try r.string("id")
        issue = try r.array("issue", of: Issue.self)
    }
}
