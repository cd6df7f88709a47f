import EdgeCore
import JSONQuery
import Logging
import ServiceLifecycle
import Store

/// Journals every local API call (client, method, route, status). Calls are gathered and
/// appended in one transaction per wake-up, so the journal costs one fsync per burst of
/// requests rather than one per request; what is pending at shutdown is flushed before the
/// store closes. Ingested messages are journaled by the store in their own commit.
///
/// Anonymous calls (`/health` probes) and refusals (401, 403) are aggregated, so that a flood
/// cannot fill the journal: the first of each client, method, route and status in a minute is
/// journaled as it happens, the rest of that minute as one entry with their `count`.
final class AccessJournal: Service, Sendable {
    private let store: Store
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    private let pending = Locked<[JournalEvent]>([])
    private let tallies = Locked<[Tally: (since: Timestamp, count: Int)]>([:])
    static let aggregationWindowMilliseconds: Int64 = 60_000

    private struct Tally: Hashable {
        var actor: String
        var method: String
        var route: String
        var status: Int
    }
    private let signal = WakeUp()
    /// Bounds memory if the store stalls; dropped entries are logged and counted.
    private let maxPending = 100_000
    private let dropped = Locked<Int>(0)
    /// The last append failed; its entries wait in `pending` for the next try.
    private let failing = Locked(false)

    static let kind = JournalKind("api.request")

    init(store: Store, logger: Logger, now: @escaping @Sendable () -> Timestamp) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    func record(client: String?, method: String, route: String, status: Int) {
        let actor = client.map { "http:" + $0 } ?? "http:anonymous"
        if client == nil || status == 401 || status == 403 {
            let key = Tally(actor: actor, method: method, route: route, status: status)
            let time = now()
            let first = tallies.withLock { tallies in
                if tallies[key] != nil {
                    tallies[key]?.count += 1
                    return false
                }
                tallies[key] = (time, 0)
                return true
            }
            // A counted call only wakes the loop, which writes the summary once its minute is over.
            guard first else {
                signal.wake()
                return
            }
        }
        let event = JournalEvent(
            kind: Self.kind, actor: actor,
            details: ["method": .string(method), "route": .string(route), "status": .int(Int64(status))])
        let accepted = pending.withLock { events in
            guard events.count < maxPending else { return false }
            events.append(event)
            return true
        }
        if accepted {
            signal.wake()
        } else {
            dropped.withLock { $0 += 1 }
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // While a flush has failed (a full disk), retry every second without waiting for
                // the next request: the entries are kept, not dropped.
                group.addTask { [self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if failing.withLock({ $0 }) { signal.wake() }
                    }
                }
                for await _ in signal.wakes {
                    await flush()
                }
                group.cancelAll()
            }
            await flush(final: true)
        } onGracefulShutdown: {
            self.signal.finish()
        }
    }

    /// Ends the journal from outside a service group (tests, one-shot tools).
    func finish() {
        signal.finish()
    }

    /// `final` also writes the counts of aggregation windows still open (shutdown).
    func flush(final: Bool = false) async {
        let batch = pending.withLock { events in
            let batch = events
            events.removeAll(keepingCapacity: true)
            return batch
        }
        let time = now()
        let summaries: [JournalEvent] = tallies.withLock { tallies in
            var summaries: [JournalEvent] = []
            for (key, tally) in tallies where final || time.millisecondsSinceEpoch - tally.since.millisecondsSinceEpoch >= Self.aggregationWindowMilliseconds {
                tallies[key] = nil
                guard tally.count > 0 else { continue }
                summaries.append(JournalEvent(kind: Self.kind, actor: key.actor, details: [
                    "method": .string(key.method), "route": .string(key.route), "status": .int(Int64(key.status)),
                    "count": .int(Int64(tally.count)), "since": .string(tally.since.iso8601),
                ]))
            }
            return summaries.sorted { ($0.details["route"]?.stringValue ?? "") < ($1.details["route"]?.stringValue ?? "") }
        }
        let lost = dropped.withLock { count in
            let lost = count
            count = 0
            return lost
        }
        var events = batch + summaries
        if lost > 0 {
            logger.error("Access journal entries were dropped while the store stalled", metadata: ["edge.journal.dropped": "\(lost)"])
            events.append(JournalEvent(kind: JournalKind("api.journal.dropped"), actor: "gateway", details: ["entries": .int(Int64(lost))]))
        }
        guard !events.isEmpty else { return }
        do {
            try await store.journal(events)
            if failing.withLock({ $0 }) {
                failing.withLock { $0 = false }
                logger.notice("Local API calls are journaled again", metadata: ["edge.journal.entries": "\(events.count)"])
            }
        } catch {
            // Kept for the next try, ahead of what came since, within the same bound.
            let overflow = pending.withLock { pending in
                pending = events + pending
                let overflow = max(0, pending.count - maxPending)
                pending.removeFirst(overflow)
                return overflow
            }
            if overflow > 0 { dropped.withLock { $0 += overflow } }
            let first = failing.withLock { failing in
                defer { failing = true }
                return !failing
            }
            if first {
                logger.error("Could not journal local API calls; they are kept and retried", metadata: [
                    "edge.store.error": "\(error.code)", "edge.journal.entries": "\(events.count)",
                ])
            }
        }
    }
}
