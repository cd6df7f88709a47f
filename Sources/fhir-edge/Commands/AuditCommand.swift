import ArgumentParser
import Audit
import EdgeCore
import FoundationEssentials
import JSONQuery
import Store

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify the hash-chained audit journal or export it as FHIR AuditEvents.",
        subcommands: [Verify.self, Export.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the journal's hash chain; exit 0 only when it is intact.",
            discussion: """
                Walks every entry from 1, recomputing SHA-256(previous hash || canonical entry), and \
                checks that sequence numbers are gapless and that the last entry is the head the store \
                recorded. Prints `journal intact: N entries, head HASH` and exits 0, or \
                `journal broken at entry N: REASON` and exits 1, naming the first bad sequence number \
                (an edited, deleted, inserted or reordered entry). Exit 2: no store at the path. \
                Safe while the daemon runs. The verification is itself journaled (actor `cli`).
                """)

        @OptionGroup var location: StoreLocation

        @Flag(name: .long, help: "Print {\"intact\": true|false, \"entries\"|\"firstBadSequence\", ...} instead of text.")
        var json = false

        func run() async throws {
            var intact = false
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let result = try await JournalVerifier().verify(session.reader)
                var details: JSONObject
                switch result {
                case .intact(let entries, let head):
                    intact = true
                    details = ["intact": true, "entries": .int(entries)]
                    if let head { details["head"] = .string(head) }
                    if json {
                        printJSON(.object(details), pretty: false)
                    } else {
                        print("journal intact: \(entries) entries, head \(head ?? "none")")
                    }
                case .broken(let sequence, let reason):
                    details = ["intact": false, "firstBadSequence": .int(sequence), "reason": .string(reason)]
                    if json {
                        printJSON(.object(details), pretty: false)
                    } else {
                        print("journal broken at entry \(sequence): \(reason)")
                    }
                }
                details["head"] = nil
                await session.journalAccess("audit.verify", details: details)
            }
            if !intact { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write journal entries as FHIR R4 AuditEvent resources, one per line (NDJSON).",
            discussion: """
                Entries recorded at or after --since (ISO 8601, e.g. 2026-11-27T08:00:00Z; default: all), \
                in journal order. Each AuditEvent's id is the entry's chain hash, so re-exports update \
                rather than duplicate. Identifiers only: no payloads or patient data. The export is \
                itself journaled (actor `cli`) after it is written.
                """)

        @OptionGroup var location: StoreLocation

        @Option(name: .long, help: "Only entries recorded at or after this instant (ISO 8601).")
        var since: String?

        @Option(name: .customLong("gateway-id"), help: "The observer identifier in each AuditEvent (default: the host name).")
        var gatewayID: String?

        @Option(name: .long, help: "The site (ward, room) in each AuditEvent's source.")
        var site: String?

        func validate() throws {
            if let since, Timestamp(parsingISO8601Lenient: since) == nil {
                throw ValidationError("--since \(since): expected an ISO 8601 instant such as 2026-11-27T08:00:00Z")
            }
        }

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let start = since.flatMap(Timestamp.init(parsingISO8601Lenient:)) ?? Timestamp(millisecondsSinceEpoch: Int64.min)
                let exporter = AuditEventExporter(gatewayID: gatewayID ?? ProcessInfo.processInfo.hostName, site: site)
                let out = LineWriter()
                let count = try await exporter.exportNDJSON(from: session.reader, since: start) { line in out.write(line) }
                out.flush()
                var details: JSONObject = ["auditEvents": .int(Int64(count))]
                if since != nil { details["since"] = .string(start.iso8601) }
                await session.journalAccess("audit.export", details: details)
            }
        }
    }
}
