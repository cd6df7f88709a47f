import ArgumentParser
import EdgeCore
import Gateway
import JSONQuery
import Store

struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletter",
        abstract: "List, show, replay or discard messages and resources that failed.",
        discussion: """
            Dead letters keep the payload and the error of a message that failed mapping (or of a \
            resource the upstream rejected). Fix the template (or the data), then replay: a message \
            goes back to the inbox and the running daemon's mapping stage maps it again with the \
            templates it has loaded (restart the daemon after editing a profile). Every command \
            is journaled (actor `cli`); list and show never print payloads unless `show --payload`.
            """,
        subcommands: [List.self, Show.self, Replay.self, Discard.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, oldest first, without payloads.",
            discussion: "--json prints one JSON object per line (id, origin, stage, errorType, errorMessage, ...).")

        @OptionGroup var location: StoreLocation

        @Flag(name: .long, help: "One JSON object per line instead of a table.")
        var json = false

        @Option(name: .long, help: "List at most this many.")
        var limit: Int = 10_000

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let letters = try await DeadLetterCommand.all(session.reader, limit: limit)
                let out = LineWriter()
                if !json {
                    out.write(letters.isEmpty ? "no dead letters" : "id\torigin\tstage\terror\tdevice\tprofile\treplays\tcreated")
                }
                for letter in letters {
                    if json {
                        out.write(JSONWriter().string(.object(letter.summaryJSON)))
                    } else {
                        let origin = letter.origin.text
                        out.write([String(letter.id.rawValue), origin, letter.stage, letter.errorType, letter.deviceID ?? "-",
                                   letter.profile?.rawValue ?? "-", String(letter.replayCount), letter.createdAt.iso8601].joined(separator: "\t"))
                    }
                }
                out.flush()
                await session.journalAccess("access.deadletter.list", details: ["deadLetters": .int(Int64(letters.count))])
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one dead letter: its error and where it came from; the payload only with --payload.",
            discussion: "Prints one JSON object. The payload can hold patient data: --payload prints it and journals that it was shown.")

        @Argument(help: "The dead letter's id (from `deadletter list`).")
        var id: Int64

        @OptionGroup var location: StoreLocation

        @Flag(name: .long, help: "Include the raw message or resource (may contain patient data).")
        var payload = false

        @Flag(name: .long, help: "Accepted for symmetry with list; the output is always JSON.")
        var json = false

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let letter = try await session.reader.deadLetter(DeadLetterID(id))
                var object = letter.summaryJSON
                if payload, let bytes = letter.payload {
                    object["payload"] = (try? JSONValue(parsing: bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
                }
                printJSON(.object(object))
                await session.journalAccess(payload ? "access.deadletter.payload" : "access.deadletter.show",
                                            subjects: [.deadLetter(letter.id)])
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move dead letters back: messages to the inbox (mapped again), resources to the outbox.",
            discussion: """
                Give ids, or --all. One transaction per 500 dead letters; each replay is journaled by the \
                store (actor `cli`). Prints where each went (`deadletter/3 -> inbox/42`), or with --json \
                one object {"replayed": N, "destinations": [...]}. Unknown ids exit 2 and change nothing.
                """)

        @Argument(help: "Dead letter ids.")
        var ids: [Int64] = []

        @Flag(name: .long, help: "Replay every dead letter.")
        var all = false

        @OptionGroup var location: StoreLocation

        @Flag(name: .long, help: "Print JSON.")
        var json = false

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give dead letter ids or --all (not both)") }
        }

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let chosen = try await DeadLetterCommand.chosen(all: all, ids: ids, session.reader)
                let store = try session.openWriter()
                defer { try? store.close() }
                var lines: [(DeadLetterID, ReplayDestination)] = []
                var start = 0
                while start < chosen.count {
                    let chunk = Array(chosen[start..<min(start + 500, chosen.count)])
                    // An unknown id fails its whole batch (exit 2); earlier batches stay replayed.
                    let destinations = try await store.replayDeadLetters(chunk, actor: OperatorSession.actor)
                    lines += zip(chunk, destinations).map { ($0, $1) }
                    start += 500
                }
                if json {
                    let destinations: [JSONValue] = lines.map { id, destination in
                        ["deadLetter": .int(id.rawValue), "to": .string(destination.text)]
                    }
                    printJSON(["replayed": .int(Int64(lines.count)), "destinations": .array(destinations)], pretty: false)
                } else {
                    let out = LineWriter()
                    for (id, destination) in lines { out.write("\(id) -> \(destination.text)") }
                    out.write("replayed \(lines.count) dead letter(s)")
                    out.flush()
                }
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters for good (each deletion is journaled).",
            discussion: "For stores that refuse intake because dead letters fill them. Give ids, or --all.")

        @Argument(help: "Dead letter ids.")
        var ids: [Int64] = []

        @Flag(name: .long, help: "Discard every dead letter.")
        var all = false

        @OptionGroup var location: StoreLocation

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError("give dead letter ids or --all (not both)") }
        }

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let chosen = try await DeadLetterCommand.chosen(all: all, ids: ids, session.reader)
                let store = try session.openWriter()
                defer { try? store.close() }
                var start = 0
                while start < chosen.count {
                    let chunk = Array(chosen[start..<min(start + 500, chosen.count)])
                    try await store.discardDeadLetters(chunk, actor: OperatorSession.actor)
                    start += 500
                }
                print("discarded \(chosen.count) dead letter(s)")
            }
        }
    }

    static func all(_ reader: StoreReader, limit: Int) async throws(StoreError) -> [DeadLetter] {
        var letters: [DeadLetter] = []
        var after: DeadLetterID?
        while letters.count < limit {
            let page = try await reader.deadLetters(after: after, limit: min(500, limit - letters.count))
            guard let last = page.last else { break }
            letters += page
            after = last.id
        }
        return letters
    }

    static func chosen(all: Bool, ids: [Int64], _ reader: StoreReader) async throws(StoreError) -> [DeadLetterID] {
        if all { return try await Self.all(reader, limit: .max).map(\.id) }
        return ids.map { DeadLetterID($0) }
    }
}
