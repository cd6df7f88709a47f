import ArgumentParser
import EdgeCore
import FoundationEssentials
import JSONQuery
import Store

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Inspect the store's queues.",
        subcommands: [Stats.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print counts of the inbox, outbox and dead letters (safe while the daemon runs).",
            discussion: """
                Reads the store through a second, read-only connection, so it works while the daemon \
                runs. With --json, prints one object with these stable keys:
                  received        messages accepted since the store was created
                  refused         messages refused at the high-water mark
                  inbox           messages waiting for or in mapping
                  outboxPending   FHIR resources waiting for or in upload
                  outboxSent      resources the upstream confirmed (also as `confirmed`)
                  deadLetters     messages and resources that failed, waiting for replay
                  bytes           stored payload, resource and dead-letter bytes
                  oldestUnsentAgeSeconds  age of the oldest unsent message or resource, or null
                  atHighWaterMark whether intake is currently refused for lack of room
                  journalEntries  entries in the audit journal
                The access is journaled (actor `cli`). Exit 2 when there is no store at the path.
                """)

        @OptionGroup var location: StoreLocation

        @Flag(name: .long, help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            try await runningOperatorCommand {
                let session = try location.session()
                defer { session.close() }
                let statistics = try await session.reader.statistics(at: Store.systemClock())
                let object = Self.json(statistics)
                if json {
                    printJSON(.object(object), pretty: false)
                } else {
                    print(Self.text(statistics, path: session.path), terminator: "")
                }
                await session.journalAccess("access.queue.stats")
            }
        }

        static func json(_ s: StoreStatistics) -> JSONObject {
            [
                "received": .int(s.received), "refused": .int(s.refused), "inbox": .int(s.inbox),
                "outboxPending": .int(s.outboxPending), "outboxSent": .int(s.outboxSent), "confirmed": .int(s.outboxSent),
                "deadLetters": .int(s.deadLetters), "bytes": .int(s.bytes),
                "oldestUnsentAgeSeconds": s.oldestUnsentAge.map { .double($0.fractionalSeconds) } ?? .null,
                "atHighWaterMark": .bool(s.atHighWaterMark), "journalEntries": .int(s.journalEntries),
            ]
        }

        static func text(_ s: StoreStatistics, path: String) -> String {
            let age = s.oldestUnsentAge.map { DecimalText.oneDecimal($0.fractionalSeconds) + " s" } ?? "none"
            return """
                store            \(path)
                received         \(s.received)
                refused          \(s.refused)
                inbox            \(s.inbox)
                outbox pending   \(s.outboxPending)
                outbox sent      \(s.outboxSent)
                dead letters     \(s.deadLetters)
                bytes            \(s.bytes)
                oldest unsent    \(age)
                high-water mark  \(s.atHighWaterMark ? "reached: intake refused" : "no")
                journal entries  \(s.journalEntries)

                """
        }
    }
}
