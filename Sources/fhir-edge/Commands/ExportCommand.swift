import ArgumentParser
import Crypto
import EdgeCore
import FieldKit
import FoundationEssentials
import Gateway
import JSONQuery
import Store

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the buffered FHIR resources: as NDJSON on stdout, or as a signed field kit with --to.",
        discussion: """
            Without --to: reads the outbox (oldest first) through a read-only connection, safe while \
            the daemon runs. --state pending (the default) exports what has not been uploaded yet \
            (pending and leased), sent what the upstream confirmed, all both. The access is journaled \
            (actor `cli`) with the number of resources written, never their content.

            With --to DIR: writes a field kit (docs/field-kits.md): one Bulk Data NDJSON file per \
            resource type and a manifest signed by this gateway's kit key, carrying the unsent \
            resources no earlier kit carried. Give --recipient PUBLIC_KEY_FILE (from `fhir-edge keygen`) \
            to encrypt it, or --plain to write it in clear. The export is journaled as kit.exported. \
            Exit 2 when the store or a key cannot be used.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case ndjson
    }

    enum State: String, ExpressibleByArgument, CaseIterable {
        case pending, sent, all

        var outboxStates: Set<OutboxState> {
            switch self {
            case .pending: [.pending, .leased]
            case .sent: [.sent]
            case .all: Set(OutboxState.allCases)
            }
        }
    }

    @OptionGroup var location: StoreLocation

    @Option(name: .long, help: "Output format (ndjson: one resource per line).")
    var format: Format = .ndjson

    @Option(name: .long, help: "Which resources: pending, sent or all (stdout export only).")
    var state: State = .pending

    @Option(name: .long, help: "Write a field kit into this new or empty directory.")
    var to: String?

    @Option(name: .long, help: "Encrypt the kit for this recipient public key file (fhir-edge keygen).")
    var recipient: String?

    @Flag(name: .long, help: "Write the kit unencrypted (explicitly: a lost stick then discloses its data).")
    var plain = false

    @Option(name: .long, help: "Replace patient identifiers by HMAC-SHA256 under the key in this file (a research extract; it cannot be imported).")
    var pseudonymise: String?

    @Flag(name: .customLong("include-carried"), help: "Also carry unsent resources earlier kits carried (when a kit was lost).")
    var includeCarried = false

    @Option(name: .customLong("gateway-id"), help: "This gateway's name in the kit (default: the host name).")
    var gatewayID: String?

    func validate() throws {
        if to == nil {
            if recipient != nil || plain || pseudonymise != nil || includeCarried {
                throw ValidationError("--recipient, --plain, --pseudonymise and --include-carried go with --to DIR")
            }
        } else {
            if (recipient == nil) == !plain { throw ValidationError("give exactly one of --recipient PUBLIC_KEY_FILE (encrypted) and --plain (unencrypted)") }
            if state != .pending { throw ValidationError("--state is for the stdout export; a field kit carries the unsent resources no kit carried yet") }
        }
    }

    func run() async throws {
        if let to {
            try await exportKit(to: to)
            return
        }
        try await runningOperatorCommand {
            let session = try location.session()
            defer { session.close() }
            let out = LineWriter()
            var count: Int64 = 0
            do {
                try await session.reader.exportOutbox(states: state.outboxStates) { line in
                    out.write(line)
                    count += 1
                }
            } catch let error as StoreError {
                out.flush()
                throw error
            }
            out.flush()
            await session.journalAccess("access.export.outbox", details: [
                "format": .string(format.rawValue), "state": .string(state.rawValue), "resources": .int(count),
            ])
        }
    }

    private func exportKit(to directory: String) async throws {
        try await runningKitCommand {
            let recipientKey = try recipient.map { try KitKeyFile.readRecipient($0).rawRepresentation }
            let pseudonymiser = try pseudonymise.map { try Pseudonymiser(keyFile: $0) }
            let session = try location.session()
            defer { session.close() }
            let store = try session.openWriter()
            defer { try? store.close() }
            let oldest = try await store.reader.unexportedOutbox(limit: 1, includingCarried: includeCarried).first?.queuedAt
            let clock = try await KitClockReport.make(reader: store.reader, since: oldest, currentState: ClockState.probe().sync.rawValue)
            let exporter = KitExporter(random: StoreEncryption.systemRandom, now: Store.systemClock)
            let options = KitExporter.Options(gateway: gatewayID ?? ProcessInfo.processInfo.hostName, recipient: recipientKey,
                                              pseudonymiser: pseudonymiser, clock: clock, actor: OperatorSession.actor,
                                              includingCarried: includeCarried)
            let manifest = try await exporter.export(from: store, to: directory, options: options)
            let kind = manifest.encryption != nil ? "encrypted for recipient \(KitVerifier.fingerprint(manifest.encryption?.recipient ?? Data()))" : "unencrypted"
            print("exported kit \(manifest.sequence) (\(manifest.exportID)) of gateway \(manifest.gateway): \(manifest.resourceCount) resource(s) in "
                + "\(manifest.files.count) file(s), \(kind)\(manifest.pseudonymKeyID != nil ? ", pseudonymised" : ""), signed by key "
                + "\(KitVerifier.fingerprint(manifest.signingKey)); clock \(manifest.clock["trust"]?.stringValue ?? "unknown")")
        }
    }
}

/// A key file that cannot be read is a usage failure (exit 2), not a refusal of the kit.
func usableKeyFile<T>(_ read: () throws -> T) throws -> T {
    do {
        return try read()
    } catch let error as KitError {
        throw UsageFailure(error.description)
    }
}

/// Runs a field-kit command: refusals of a kit or acknowledgement exit 1 with the file and the
/// reason, unusable stores and keys exit 2.
func runningKitCommand(refusal: String = "", _ body: () async throws -> Void) async throws {
    do {
        try await runningOperatorCommand(body)
    } catch let error as KitError {
        standardError("fhir-edge: \(refusal)\(error)")
        throw ExitCode(refusal.isEmpty ? 2 : 1)
    }
}
