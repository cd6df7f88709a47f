import JSONQuery

/// The two expression languages a device-content template may use.
enum ExpressionLanguage: Sendable, Equatable {
    case jsonPath
    case jmesPath

    /// Upstream's enum names, parsed case-insensitively as Json.NET does.
    init?(name: String) {
        if TemplateObjectReader.equalsIgnoringASCIICase(name, "JsonPath") {
            self = .jsonPath
        } else if TemplateObjectReader.equalsIgnoringASCIICase(name, "JmesPath") {
            self = .jmesPath
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .jsonPath: "JSONPath"
        case .jmesPath: "JMESPath"
        }
    }
}

/// One compiled template expression. Compiled once at load; evaluated per message.
struct TemplateExpression: Sendable {
    enum Compiled: Sendable {
        /// A plain member chain (`$.a.b`, `a.b`, or an IoT kind's fixed path) walked directly:
        /// most single-value expressions are like this, and the walk allocates nothing.
        case members([String])
        case jsonPath(JSONPathExpression)
        case jmesPath(JMESPathExpression)
    }

    /// The expression as written in the template (safe to log: it is configuration).
    let text: String
    let language: ExpressionLanguage
    let compiled: Compiled

    /// Why an expression did not compile, with the 1-based column inside it when known.
    struct CompileError: Error {
        var message: String
        var column: Int?
    }

    init(_ text: String, language: ExpressionLanguage) throws(CompileError) {
        self.text = text
        self.language = language
        if let members = Self.memberChain(text, language: language) {
            self.compiled = .members(members)
            return
        }
        switch language {
        case .jsonPath:
            do {
                self.compiled = .jsonPath(try JSONPathExpression(text, dialect: .jsonNet))
            } catch {
                throw CompileError(message: error.message, column: error.column)
            }
        case .jmesPath:
            do {
                self.compiled = .jmesPath(try JMESPathExpression(text, functions: .medTech))
            } catch {
                throw CompileError(message: error.message, column: error.column)
            }
        }
    }

    /// A fixed member path (the IoT kinds' device id and timestamp locations).
    init(fixedPath members: [String], text: String) {
        self.text = text
        self.language = .jsonPath
        self.compiled = .members(members)
    }

    /// Failures while evaluating against a message.
    enum EvaluationError: Error {
        /// The engine threw (a function's argument type or range, for instance). Only the
        /// error's class is kept: engine messages may quote payload values.
        case engine(String)
        /// A single-value expression selected more than one node.
        case multipleTokens
    }

    // MARK: Evaluation

    /// The matches of a type-match expression: every node a JSONPath selects; for JMESPath, one
    /// match per element of a projection, else the result itself unless it is null.
    func matches(in document: JSONValue) throws(EvaluationError) -> [JSONValue] {
        switch compiled {
        case .members(let path):
            guard let value = Self.walk(path, in: document) else { return [] }
            // JSONPath selects a present `null` member; JMESPath's null is "nothing".
            if language == .jmesPath, value.isNull { return [] }
            return [value]
        case .jsonPath(let expression):
            do {
                return try expression.select(document)
            } catch {
                throw .engine("JSONPath evaluation error")
            }
        case .jmesPath(let expression):
            let result: JSONValue
            do {
                result = try expression.evaluate(document)
            } catch {
                throw .engine("JMESPath \(error.kind.rawValue) error")
            }
            if expression.isProjection {
                guard case .array(let elements) = result else { return [] }
                return elements
            }
            return result.isNull ? [] : [result]
        }
    }

    /// The single node a value expression selects: nil when it selects nothing (a JMESPath
    /// `null` counts as nothing). Selecting several nodes is an error, as upstream; a JMESPath
    /// projection with one element yields that one-element array, which then fails conversion.
    func value(in document: JSONValue) throws(EvaluationError) -> JSONValue? {
        switch compiled {
        case .members(let path):
            return Self.walk(path, in: document)
        case .jsonPath(let expression):
            let selected: [JSONValue]
            do {
                selected = try expression.select(document)
            } catch {
                throw .engine("JSONPath evaluation error")
            }
            guard selected.count <= 1 else { throw .multipleTokens }
            return selected.first
        case .jmesPath(let expression):
            let result: JSONValue
            do {
                result = try expression.evaluate(document)
            } catch {
                throw .engine("JMESPath \(error.kind.rawValue) error")
            }
            if result.isNull { return nil }
            if expression.isProjection, case .array(let elements) = result, elements.count > 1 {
                throw .multipleTokens
            }
            return result
        }
    }

    @inline(__always)
    static func walk(_ path: [String], in document: JSONValue) -> JSONValue? {
        var node = document
        for name in path {
            guard case .object(let object) = node, let next = object[name] else { return nil }
            node = next
        }
        return node
    }

    /// Recognises `$`, `$.a.b` (JSONPath) and `a.b` (JMESPath) made of plain identifiers, which
    /// both languages evaluate as a member walk that yields nothing on a missing member or a
    /// non-object. Anything else goes to the engine.
    static func memberChain(_ text: String, language: ExpressionLanguage) -> [String]? {
        var rest = Substring(text)
        switch language {
        case .jsonPath:
            guard rest.first == "$" else { return nil }
            rest = rest.dropFirst()
            if rest.isEmpty { return [] }
            guard rest.first == "." else { return nil }
            rest = rest.dropFirst()
        case .jmesPath:
            break
        }
        var names: [String] = []
        for part in rest.split(separator: ".", omittingEmptySubsequences: false) {
            guard isIdentifier(part) else { return nil }
            names.append(String(part))
        }
        return names.isEmpty ? nil : names
    }

    private static func isIdentifier(_ part: Substring) -> Bool {
        guard let first = part.utf8.first else { return false }
        func isLetter(_ b: UInt8) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_")
        }
        guard isLetter(first) else { return false }
        return part.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }
}
