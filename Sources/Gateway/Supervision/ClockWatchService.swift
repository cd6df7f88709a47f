import EdgeCore
import FoundationEssentials
import JSONQuery
import Logging
import ServiceLifecycle
import Store

/// Samples the wall clock against the monotonic one and the sync state every `interval` and
/// journals what `ClockWatch` notices (`clock.jumped`, `clock.sync`), so that a kit that ran for
/// weeks without NTP can say how far its times can be trusted (docs/field-kits.md).
struct ClockWatchService: Service {
    let store: Store
    let logger: Logger
    var interval: Duration = .seconds(10)
    var wall: @Sendable () -> Timestamp = Store.systemClock
    var sync: @Sendable () -> String = { ClockState.probe().sync.rawValue }

    func run() async throws {
        let clock = ContinuousClock()
        let origin = clock.now
        await cancelWhenGracefulShutdown {
            var watch = ClockWatch()
            while !Task.isCancelled {
                let events = watch.observe(ClockWatch.Sample(wall: wall(), monotonic: clock.now - origin, sync: sync()))
                let entries = events.map(Self.journalEvent)
                if !entries.isEmpty {
                    do throws(StoreError) {
                        try await store.journal(entries)
                    } catch {
                        logger.error("Clock observation not journaled", metadata: ["edge.store.error": "\(error.code)"])
                    }
                }
                for case .jumped(let by, _, _) in events {
                    logger.warning("The wall clock jumped", metadata: ["edge.clock.jump_ms": "\(by)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    static func journalEvent(_ event: ClockWatch.Event) -> JournalEvent {
        switch event {
        case .jumped(let by, let expected, let observed):
            JournalEvent(kind: .clockJumped, actor: "gateway", details: [
                "byMilliseconds": .int(by), "expected": .string(expected.iso8601), "observed": .string(observed.iso8601),
            ])
        case .sync(let state, let previous):
            JournalEvent(kind: .clockSync, actor: "gateway", details: ["state": .string(state), "previous": previous.map(JSONValue.string) ?? .null])
        }
    }
}
