/// Why a JMESPath expression could not be compiled or evaluated.
///
/// `kind` uses the error names of the JMESPath compliance suite (plus the MedTech ones), so
/// callers and tests can classify failures; `message` says why in words; `column` points at the
/// offending character for compile-time errors.
package struct JMESPathError: Error, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        case syntax
        case invalidArity = "invalid-arity"
        case invalidType = "invalid-type"
        case invalidValue = "invalid-value"
        case unknownFunction = "unknown-function"
        case divideByZero = "divide-by-zero"
        case overflow
        case outOfRange = "out-of-range"
    }

    package let kind: Kind
    package let message: String
    /// 1-based column (in Unicode scalars) for syntax and other compile-time errors.
    package let column: Int?

    init(_ kind: Kind, _ message: String, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.column = column
    }

    package var description: String {
        if let column { return "\(kind.rawValue) error at column \(column): \(message)" }
        return "\(kind.rawValue) error: \(message)"
    }
}
