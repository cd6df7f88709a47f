import EdgeCore
import EdgeSystem
import EdgeCrypto
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Store

/// What the `run`, `demo` and `config check` commands do, so that the executable needs no
/// third-party imports besides its argument parser.
package enum GatewayLauncher {
    /// Loads and validates the configuration and compiles its device profiles, collecting every
    /// problem of both. `profilesDirectory` replaces `profiles.directory` (the demo's bundled profiles).
    package static func load(
        file: String, overrides: ConfigurationOverrides = ConfigurationOverrides(), profilesDirectory: String? = nil
    ) -> Result<(GatewayConfiguration, DeviceProfileCatalog), ConfigurationError> {
        let (decoded, fileProblems, namedProfiles) = GatewayConfiguration.loadCollecting(file: file, overrides: overrides)
        // The profiles are checked even when the file has problems: every problem at once.
        var catalog: DeviceProfileCatalog?
        var problems = fileProblems
        if let directory = profilesDirectory ?? namedProfiles {
            do {
                catalog = try DeviceProfileCatalog.load(directory: directory)
            } catch {
                problems += error.problems
            }
        }
        guard var configuration = decoded, let catalog, problems.isEmpty else {
            return .failure(ConfigurationError(problems: problems))
        }
        if let profilesDirectory { configuration.profiles.directory = profilesDirectory }
        for name in configuration.profiles.access.keys.sorted() where catalog[name] == nil {
            problems.append(ConfigurationProblem(
                file: configuration.file, keyPath: "profiles.access." + name,
                message: "no profile folder \(name) under \(configuration.profiles.directory)"))
        }
        for reference in configuration.bluetooth?.profileReferences ?? [] where catalog[reference.profile] == nil {
            problems.append(ConfigurationProblem(
                file: configuration.file, keyPath: reference.keyPath,
                message: "no profile folder \(reference.profile) under \(configuration.profiles.directory)"))
        }
        if let hl7 = configuration.hl7, catalog[hl7.profile] == nil {
            problems.append(ConfigurationProblem(
                file: configuration.file, keyPath: "hl7.profile",
                message: "no profile folder \(hl7.profile) under \(configuration.profiles.directory)"))
        }
        problems += ModbusProfiles.problems(configuration, catalog: catalog)
        problems += MQTTIntake.problems(configuration, catalog: catalog)
        problems += IdentityRequirements.problems(configuration, catalog: catalog)
        if configuration.demo, catalog[LocalAPI.demoProfile] == nil {
            problems.append(ConfigurationProblem(
                file: configuration.file, keyPath: "demo",
                message: "demo mode serves the \(LocalAPI.demoProfile) profile, and \(configuration.profiles.directory) has none"))
        }
        if !problems.isEmpty { return .failure(ConfigurationError(problems: problems)) }
        return .success((configuration, catalog))
    }

    /// Runs the daemon until SIGTERM/SIGINT. Logs go to stderr (level from `FHIR_EDGE_LOG_LEVEL`,
    /// default `info`), with priority prefixes and no timestamps when stderr is the journal; one
    /// line `listening on HOST:PORT` goes to stdout when the API is up. Under systemd
    /// (`NOTIFY_SOCKET`) it reports READY/STOPPING and feeds the unit's watchdog.
    package static func run(configuration: GatewayConfiguration, catalog: DeviceProfileCatalog) async throws {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["FHIR_EDGE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let journal = JournalLogHandler.standardErrorIsJournal(environment: environment)
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler()
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fhir-edge")
        let gateway: Gateway
        do {
            gateway = try Gateway(configuration: configuration, catalog: catalog, logger: logger)
        } catch {
            throw LaunchError(message: "cannot open the store: \(error)")
        }
        logger.info("Gateway starting", metadata: [
            "edge.config": "\(configuration.file)", "edge.store": "\(configuration.storePath)",
            "edge.profiles": "\(catalog.names.joined(separator: ","))", "edge.demo": "\(configuration.demo)",
        ])
        let files = raiseOpenFileLimit()
        if files < configuration.http.maxConnections + reservedFileDescriptors {
            logger.warning("The open-file limit is below http.maxConnections plus what the store and links need; lower maxConnections or raise LimitNOFILE", metadata: [
                "edge.limit.openFiles": "\(files)", "edge.http.maxConnections": "\(configuration.http.maxConnections)",
            ])
        }
        for warning in configuration.warnings {
            logger.warning("Configuration weakens the box", metadata: ["edge.warning": "\(warning)"])
        }
        for name in catalog.names {
            for warning in catalog[name]?.warnings ?? [] {
                logger.warning("Profile setting costs data", metadata: ["edge.profile": "\(name)", "edge.warning": "\(warning)"])
            }
        }
        let serviceManager = ServiceManager.fromEnvironment(environment, processID: getpid())
        try await gateway.run(serviceManager: serviceManager, onListening: { address in
            // Unbuffered, so that a script reading a pipe sees it at once.
            StandardStream.output.write("listening on \(address)\n")
            // Once start-up is over, the clean file pages it touched go back to the kernel (`StartupPages`).
            Task.detached(priority: .background) {
                try? await Task.sleep(for: startupPagesDelay)
                if let bytes = StartupPages.release() {
                    logger.debug("Start-up pages handed back", metadata: ["edge.memory.advisedBytes": "\(bytes)"])
                }
            }
        })
    }

    /// How long after the API listens the start-up pages are handed back: the services' first
    /// rounds (a mapping poll, the retention pass) run by then.
    static let startupPagesDelay = Duration.seconds(1)

    /// Descriptors beside the API's connections: the store, its WAL, logs, device links, upstream.
    static let reservedFileDescriptors = 64

    /// Raises the soft open-file limit to the hard one (the unit's LimitNOFILE), so the connection
    /// cap, not EMFILE, bounds the local API; returns the limit in force.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return Int.max }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    package struct LaunchError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    /// Where the bundled demo lives: `(config, profiles)`. Looked up, in order: next to an
    /// installed binary (`<prefix>/bin/fhir-edge` -> `<prefix>/share/fhir-edge/demo/config.yaml`
    /// and `<prefix>/share/fhir-edge/device-profiles`), then a source checkout above the binary
    /// (`.build/<config>/fhir-edge` -> `packaging/demo/config.yaml` and `device-profiles/`), then
    /// a source checkout at or above the working directory.
    package static func bundledDemo(executablePath: String) -> (config: String, profiles: String)? {
        let fileManager = FileManager.default
        let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
        let binDirectory = executable.deletingLastPathComponent()
        let share = binDirectory.deletingLastPathComponent().appendingPathComponent("share/fhir-edge")
        let installedConfig = share.appendingPathComponent("demo/config.yaml").path
        let installedProfiles = share.appendingPathComponent("device-profiles").path
        if fileManager.fileExists(atPath: installedConfig), fileManager.fileExists(atPath: installedProfiles) {
            return (installedConfig, installedProfiles)
        }
        for start in [binDirectory, URL(fileURLWithPath: fileManager.currentDirectoryPath)] {
            var directory = start
            for _ in 0..<8 {
                let config = directory.appendingPathComponent("packaging/demo/config.yaml").path
                let profiles = directory.appendingPathComponent("device-profiles").path
                if fileManager.fileExists(atPath: config), fileManager.fileExists(atPath: profiles) {
                    return (config, profiles)
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return nil
    }

    /// The SHA-256 (hex) to put under `clients.<id>.tokenSHA256` for a token.
    package static func tokenHash(_ token: String) -> String {
        SHA256.hexDigest(token)
    }
}
