/// Why a device message yielded no measurements at all.
///
/// The message names the template field or value and the expression, never data from the
/// payload: these errors end up in logs and the dead-letter table's reason column.
package struct NormalizationError: Error, Sendable, CustomStringConvertible {
    /// The upstream exception name, e.g. `IncompatibleDataException`, for orientation.
    package var type: String
    /// What failed, e.g. `Unable to extract required value for [DeviceIdExpression] using $.device`.
    package var message: String
    /// 0-based index of the sub-template that failed, in its collection.
    package var templateIndex: Int?
    /// That sub-template's `templateType` as written.
    package var templateType: String?
    /// The template member that failed, e.g. `deviceIdExpression` or `values[1].valueExpression`.
    package var field: String?

    package init(type: String, message: String, templateIndex: Int? = nil, templateType: String? = nil, field: String? = nil) {
        self.type = type
        self.message = message
        self.templateIndex = templateIndex
        self.templateType = templateType
        self.field = field
    }

    package var description: String {
        var location = ""
        if let templateIndex {
            location = "template[\(templateIndex)]"
            if let templateType { location += " (\(templateType))" }
            if let field { location += " \(field)" }
            location += ": "
        }
        return "\(location)\(type): \(message)"
    }

    /// Upstream's name for data that does not fit the template (required value missing, blank
    /// or unconvertible; timestamp not a date-time).
    static let incompatibleData = "IncompatibleDataException"
    /// Upstream's name for an expression selecting several nodes where one is expected.
    static let multipleTokens = "JsonException"
    /// An expression engine failed (a custom function's argument type or range, for instance).
    static let expressionEvaluation = "ExpressionEvaluationException"
}
