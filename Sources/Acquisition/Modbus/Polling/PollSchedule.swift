/// When each device of one link is due: the decisions of polling, free of I/O. Times are
/// offsets from the link's start.
///
/// A healthy device keeps a fixed grid (`start + k × interval`), so a slow neighbour on a shared
/// bus delays one poll but never shifts the ones after it; polls that a delay made impossible are
/// skipped and counted, not run back to back. A failing device backs off (interval × 2^(n-1), at
/// most `maxBackoff`), so a dead unit on a bus costs at most one timeout per (backed-off) poll.
struct PollSchedule: Sendable {
    struct Slot: Sendable, Equatable {
        var due: Duration
        var interval: Duration
        var consecutiveFailures = 0
        var skipped = 0
    }

    private(set) var slots: [Slot]
    let maxBackoff: Duration

    init(intervals: [Duration], start: Duration = .zero, maxBackoff: Duration = .seconds(60)) {
        slots = intervals.map { Slot(due: start, interval: $0) }
        self.maxBackoff = maxBackoff
    }

    /// The device due first (the lower index on a tie), or nil without devices.
    func next() -> (device: Int, due: Duration)? {
        var best: (device: Int, due: Duration)?
        for (index, slot) in slots.enumerated() {
            if let current = best, current.due <= slot.due { continue }
            best = (index, slot.due)
        }
        return best
    }

    /// Whether the device is healthy enough to deserve retries.
    func isHealthy(_ device: Int) -> Bool { slots[device].consecutiveFailures == 0 }

    /// Records a finished poll; returns how many polls were skipped because it ended late.
    @discardableResult
    mutating func finished(_ device: Int, at now: Duration, succeeded: Bool) -> Int {
        var slot = slots[device]
        var skipped = 0
        if succeeded {
            slot.consecutiveFailures = 0
            var next = slot.due + slot.interval
            if now > next, slot.interval > .zero {
                let behind = Int(((now - next) / slot.interval).rounded(.up))
                next += slot.interval * behind
                skipped = behind
            }
            slot.due = next
        } else {
            slot.consecutiveFailures += 1
            let doublings = min(slot.consecutiveFailures - 1, 16)
            let backoff = min(slot.interval * (1 << doublings), max(slot.interval, maxBackoff))
            slot.due = max(slot.due + backoff, now)
        }
        slot.skipped += skipped
        slots[device] = slot
        return skipped
    }
}
