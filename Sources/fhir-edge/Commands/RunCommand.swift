import ArgumentParser
import Gateway
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway daemon: local ingest API, mapping stage, durable store.",
        discussion: """
            Validates the configuration and device profiles first and exits 1 listing every problem.
            Prints `listening on HOST:PORT` on stdout once the API accepts connections. SIGTERM or
            SIGINT stops intake, finishes the mapping batch in hand and closes the store.
            """)

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .customLong("data-dir"), help: "Folder of the store; replaces the file's dataDir.")
    var dataDir: String?

    @Option(name: .long, help: "HOST:PORT of the local API; replaces the file's http.listen.")
    var listen: String?

    func run() async throws {
        let overrides = ConfigurationOverrides(dataDirectory: dataDir, listen: listen)
        try await DaemonStart.run(file: config, overrides: overrides, profilesDirectory: nil)
    }
}

/// Shared by `run` and `demo`.
enum DaemonStart {
    static func run(file: String, overrides: ConfigurationOverrides, profilesDirectory: String?) async throws {
        switch GatewayLauncher.load(file: file, overrides: overrides, profilesDirectory: profilesDirectory) {
        case .failure(let error):
            reportToStandardError("fhir-edge: the configuration cannot be used (\(error.problems.count) problem(s)):")
            for problem in error.problems { reportToStandardError("  " + problem.description) }
            throw ExitCode(1)
        case .success(let (configuration, catalog)):
            do {
                try await GatewayLauncher.run(configuration: configuration, catalog: catalog)
            } catch {
                reportToStandardError("fhir-edge: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

/// Writes a line to standard error (the daemon commands' diagnostics).
func reportToStandardError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
