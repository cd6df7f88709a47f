import ArgumentParser
import Gateway

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check a configuration or prepare a client token.",
        subcommands: [Check.self, HashToken.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration and its device profiles without running.",
            discussion: "Prints every problem with file and key path (or template and field); exits 0 when usable, 1 otherwise.")

        @Argument(help: "The YAML configuration file.")
        var file: String

        func run() throws {
            switch GatewayLauncher.load(file: file) {
            case .success(let (configuration, catalog)):
                print("\(file): ok (\(catalog.names.count) profile(s): \(catalog.names.joined(separator: ", ")); store \(configuration.storePath); listen \(configuration.http.listen))")
                for name in catalog.names {
                    for warning in catalog[name]?.warnings ?? [] { print("warning: \(warning)") }
                }
            case .failure(let error):
                for problem in error.problems { print(problem.description) }
                throw ExitCode(1)
            }
        }
    }

    struct HashToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-token",
            abstract: "Print the SHA-256 of a client token, for clients.<id>.tokenSHA256.")

        @Argument(help: "The token; read from standard input when omitted (keeps it out of shell history).")
        var token: String?

        func run() throws {
            guard let token = token ?? readLine(strippingNewline: true), !token.isEmpty else {
                reportToStandardError("fhir-edge: no token given")
                throw ExitCode(1)
            }
            print(GatewayLauncher.tokenHash(token))
        }
    }
}
