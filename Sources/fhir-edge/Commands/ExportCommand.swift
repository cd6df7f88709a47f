import ArgumentParser
import JSONQuery
import Store

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the buffered FHIR resources, one compact JSON resource per line.",
        discussion: """
            Reads the outbox (oldest first) through a read-only connection, safe while the daemon \
            runs. --state pending (the default) exports what has not been uploaded yet (pending and \
            leased), sent what the upstream confirmed, all both. The access is journaled (actor `cli`) \
            with the number of resources written, never their content.
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

    @Option(name: .long, help: "Which resources: pending, sent or all.")
    var state: State = .pending

    func run() async throws {
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
}
