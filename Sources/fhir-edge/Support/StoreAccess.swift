import ArgumentParser
import Audit
import EdgeCore
import Foundation
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

    /// The database file. Configuration problems are usage failures (exit 2).
    func storePath() throws -> String {
        guard let config else { return GatewayConfiguration.storePath(inDataDirectory: dataDir ?? "fhir-edge-demo-data") }
        do {
            return try GatewayConfiguration.load(file: config, overrides: ConfigurationOverrides(dataDirectory: dataDir)).storePath
        } catch {
            throw UsageFailure("the configuration cannot be used:\n  " + error.problems.map(\.description).joined(separator: "\n  "))
        }
    }

    func session() throws -> OperatorSession {
        try OperatorSession(path: storePath())
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

    init(path: String) throws {
        do {
            reader = try StoreReader.openReadOnly(path: path)
        } catch {
            throw UsageFailure(error.description)
        }
        self.path = path
    }

    /// Opens a writer for commands that change the store (replay, discard).
    func openWriter() throws -> Store {
        do {
            return try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock)
        } catch {
            throw UsageFailure(error.description)
        }
    }

    /// Journals `kind` (an `access.*` or `audit.*` kind, so the AuditEvent export codes it as a
    /// read) with identifiers and counts only.
    func journalAccess(_ kind: String, subjects: [JournalSubject] = [], details: JSONObject = JSONObject()) async {
        let event = JournalEvent(kind: JournalKind(kind), actor: Self.actor, subjects: subjects, details: details)
        do {
            let store = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock)
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
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Collects output lines and writes them in large chunks (exports can be millions of lines).
final class LineWriter {
    private var buffer: [UInt8] = []
    private let handle = FileHandle.standardOutput

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
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
