import ArgumentParser
import JSONQuery

/// `fhir-edge query`: evaluates one JMESPath or JSONPath expression, for debugging templates.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Evaluate a JMESPath or JSONPath expression against a JSON document.",
        subcommands: [JMESPath.self, JSONPath.self]
    )

    struct JMESPath: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "jmespath",
            abstract: "Evaluate a JMESPath expression (with the MedTech custom functions) and print the result."
        )

        @Argument(help: "The JMESPath expression.")
        var expression: String

        @Argument(help: "The JSON document; '-' or omitted reads standard input.")
        var file: String?

        func run() throws {
            try exitingOnUsageFailure {
                let compiled: JMESPathExpression
                do {
                    compiled = try JMESPathExpression(expression, functions: .medTech)
                } catch {
                    throw UsageFailure("invalid JMESPath expression: \(error)")
                }
                let document = try parseJSON(try readInput(file), source: file ?? "stdin")
                do {
                    printJSON(try compiled.evaluate(document))
                } catch {
                    throw UsageFailure("evaluation failed: \(error)")
                }
            }
        }
    }

    struct JSONPath: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "jsonpath",
            abstract: "Evaluate a JSONPath expression and print the selected nodes as a JSON array."
        )

        @Option(help: "rfc9535 (the standard) or jsonnet (the Json.NET dialect MedTech templates use).")
        var dialect: Dialect = .rfc9535

        enum Dialect: String, ExpressibleByArgument, CaseIterable {
            case rfc9535, jsonnet

            var engineDialect: JSONPathExpression.Dialect {
                switch self {
                case .rfc9535: .rfc9535
                case .jsonnet: .jsonNet
                }
            }
        }

        @Argument(help: "The JSONPath expression.")
        var expression: String

        @Argument(help: "The JSON document; '-' or omitted reads standard input.")
        var file: String?

        func run() throws {
            try exitingOnUsageFailure {
                let compiled: JSONPathExpression
                do {
                    compiled = try JSONPathExpression(expression, dialect: dialect.engineDialect)
                } catch {
                    throw UsageFailure("invalid JSONPath expression: \(error)")
                }
                let document = try parseJSON(try readInput(file), source: file ?? "stdin")
                do {
                    printJSON(.array(try compiled.select(document)))
                } catch {
                    throw UsageFailure("evaluation failed: \(error)")
                }
            }
        }
    }
}
