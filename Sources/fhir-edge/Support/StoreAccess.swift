import ArgumentParser
import Audit
import EdgeCore
import EdgeSystem
import FoundationEssentials
import Gateway
import JSONQuery
import Store

/// Where the operator commands find the store: a data directory (`fhir-edge.sqlite` inside it,
/// the same rule as the daemon) or the store of a configuration file.
struct StoreLocation: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Folder of the store, as given to `run`/`demo` (default: fhir-edge-demo-data).")
    var dataDir: String?

    @Option(name: .long, help: "A configuration file whose store to use; --data-dir replaces its dataDir.")
    var config: String?

    @Option(name: .customLong("key-file"), help: "The store's key file (default: store.encryption of --config, else fhir-edge.key beside the store).")
    var keyFile: String?

    @Option(name: .customLong("key-env"), help: "An environment variable holding the store's key.")
    var keyEnv: String?

    @Option(name: .customLong("key-credential"), help: "A systemd credential holding the store's key ($CREDENTIALS_DIRECTORY/NAME).")
    var keyCredential: String?

    /// The configuration file's settings, when --config is given. Problems are usage failures (exit 2).
    func configuration() throws -> GatewayConfiguration? {
        guard let config else { return nil }
        do {
            return try GatewayConfiguration.load(file: config, overrides: ConfigurationOverrides(dataDirectory: dataDir))
        } catch {
            throw UsageFailure("the configuration cannot be used:\n  " + error.problems.map(\.description).joined(separator: "\n  "))
        }
    }

    /// The database file.
    func storePath() throws -> String {
        try configuration()?.storePath ?? GatewayConfiguration.storePath(inDataDirectory: dataDir ?? "fhir-edge-demo-data")
    }

    /// The key source the flags name, if any (at most one of them).
    func flaggedKeySource() throws -> StoreKeySource? {
        let flagged: [StoreKeySource] = [keyFile.map(StoreKeySource.file), keyEnv.map(StoreKeySource.environment),
                                         keyCredential.map(StoreKeySource.credential)].compactMap { $0 }
        guard flagged.count <= 1 else { throw UsageFailure("give at most one of --key-file, --key-env and --key-credential") }
        return flagged.first
    }

    /// The store's key: the flags, else `store.encryption` of --config, else the key file beside
    /// the store when there is one (nil otherwise: a store kept in clear opens without a key,
    /// an encrypted one then fails naming what to give). Never creates a key.
    func encryption(forStore path: String) throws -> StoreEncryption? {
        let source = try flaggedKeySource() ?? configuration()?.storeKey
        return try StoreLocation.encryption(source: source, forStore: path)
    }

    static func encryption(source: StoreKeySource?, forStore path: String) throws -> StoreEncryption? {
        let chosen: StoreKeySource
        if let source {
            chosen = source
        } else {
            let file = GatewayConfiguration.defaultKeyFile(forStore: path)
            guard FileManager.default.fileExists(atPath: file) else { return nil }
            chosen = .file(file)
        }
        do {
            return StoreEncryption(keyEncryptionKey: try chosen.load())
        } catch {
            throw UsageFailure(error.description)
        }
    }

    func session() throws -> OperatorSession {
        let path = try storePath()
        return try OperatorSession(path: path, encryption: encryption(forStore: path))
    }
}

/// Opens the store for an operator command and journals the access as actor `cli`.
///
/// Reads go through a read-only connection, safe while the daemon runs (WAL). The access entry
/// is appended through a short-lived writer after the reads, in its own transaction, serialised
/// with the daemon by SQLite's lock; if the store cannot be written (a read-only copy, a full
/// disk) the command still answers and says on stderr that the access was not journaled.
struct OperatorSession {
    static let actor = "cli"

    let path: String
    let reader: StoreReader
    /// The key of an encrypted store; nil for one kept in clear, which an operator command
    /// never encrypts (the daemon does, at its start).
    let encryption: StoreEncryption?

    init(path: String, encryption: StoreEncryption?) throws {
        do {
            reader = try StoreReader.openReadOnly(path: path, encryption: encryption)
        } catch {
            throw UsageFailure(error.description)
        }
        self.path = path
        self.encryption = reader.isEncrypted ? encryption : nil
    }

    /// With the key file beside the store, if there is one.
    init(path: String) throws {
        try self.init(path: path, encryption: StoreLocation.encryption(source: nil, forStore: path))
    }

    /// Opens a writer for commands that change the store (replay, discard).
    func openWriter() throws -> Store {
        do {
            return try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock, encryption: encryption)
        } catch {
            throw UsageFailure(error.description)
        }
    }

    /// Journals `kind` (an `access.*` or `audit.*` kind, so the AuditEvent export codes it as a
    /// read) with identifiers and counts only.
    func journalAccess(_ kind: String, subjects: [JournalSubject] = [], details: JSONObject = JSONObject()) async {
        let event = JournalEvent(kind: JournalKind(kind), actor: Self.actor, subjects: subjects, details: details)
        do {
            let store = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock, encryption: encryption)
            defer { try? store.close() }
            try await store.journal([event])
        } catch {
            standardError("fhir-edge: warning: this access could not be journaled: \(error)")
        }
    }

    func close() {
        try? reader.close()
    }
}

/// Runs an operator command body, turning usage failures into a message on stderr and exit 2.
func runningOperatorCommand(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as UsageFailure {
        standardError("fhir-edge: \(failure.description)")
        throw ExitCode(2)
    } catch let error as StoreError where error.code == .notFound {
        standardError("fhir-edge: \(error.location ?? "it"): not found; list dead letters with `fhir-edge deadletter list`")
        throw ExitCode(2)
    } catch let error as StoreError {
        standardError("fhir-edge: \(error)")
        throw ExitCode(2)
    }
}

func standardError(_ line: String) {
    StandardStream.error.write((line + "\n"))
}

/// Collects output lines and writes them in large chunks (exports can be millions of lines).
final class LineWriter {
    private var buffer: [UInt8] = []
    
    init() {
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        StandardStream.output.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
