import EdgeCore
import JSONQuery
import Logging
import ServiceLifecycle
import Store
import Synchronization

/// Journals every local API call (client, method, route, status). Calls are gathered and
/// appended in one transaction per wake-up, so the journal costs one fsync per burst of
/// requests rather than one per request; what is pending at shutdown is flushed before the
/// store closes. Ingested messages are journaled by the store in their own commit.
final class AccessJournal: Service, Sendable {
    private let store: Store
    private let logger: Logger
    private let pending = Mutex<[JournalEvent]>([])
    private let wakeup: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// Bounds memory if the store stalls; dropped entries are logged and counted.
    private let maxPending = 100_000
    private let dropped = Mutex<Int>(0)

    static let kind = JournalKind("api.request")

    init(store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
        (wakeup, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func record(client: String?, method: String, route: String, status: Int) {
        let event = JournalEvent(
            kind: Self.kind, actor: client.map { "http:" + $0 } ?? "http:anonymous",
            details: ["method": .string(method), "route": .string(route), "status": .int(Int64(status))])
        let accepted = pending.withLock { events in
            guard events.count < maxPending else { return false }
            events.append(event)
            return true
        }
        if accepted {
            wake.yield()
        } else {
            dropped.withLock { $0 += 1 }
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in wakeup {
                await flush()
            }
            await flush()
        } onGracefulShutdown: {
            self.wake.finish()
        }
    }

    /// Ends the journal from outside a service group (tests, one-shot tools).
    func finish() {
        wake.finish()
    }

    func flush() async {
        let batch = pending.withLock { events in
            let batch = events
            events.removeAll(keepingCapacity: true)
            return batch
        }
        let lost = dropped.withLock { count in
            let lost = count
            count = 0
            return lost
        }
        var events = batch
        if lost > 0 {
            logger.error("Access journal entries were dropped while the store stalled", metadata: ["edge.journal.dropped": "\(lost)"])
            events.append(JournalEvent(kind: JournalKind("api.journal.dropped"), actor: "gateway", details: ["entries": .int(Int64(lost))]))
        }
        guard !events.isEmpty else { return }
        do {
            try await store.journal(events)
        } catch {
            logger.error("Could not journal local API calls", metadata: ["edge.store.error": "\(error.code)", "edge.journal.entries": "\(events.count)"])
        }
    }
}
