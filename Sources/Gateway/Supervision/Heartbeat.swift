import Synchronization

/// Progress of the gateway's main loop (the mapping stage): a counter the loop advances each time
/// it runs, read by the watchdog. A loop stuck in a store call or a mapping batch stops advancing it.
package final class Heartbeat: Sendable {
    private let beats = Atomic<UInt64>(0)

    package init() {}

    func beat() {
        beats.add(1, ordering: .relaxed)
    }

    var count: UInt64 { beats.load(ordering: .relaxed) }
}

/// Decides whether a watchdog ping may go out: only when the main loop beat since the last
/// check. Pure, so that a stuck loop is tested without a clock.
struct WatchdogGate: Sendable {
    private var lastSeen: UInt64

    init(startingAt count: UInt64) {
        lastSeen = count
    }

    /// True when `count` moved since the previous call (or since the start).
    mutating func shouldPing(count: UInt64) -> Bool {
        defer { lastSeen = count }
        return count != lastSeen
    }
}
