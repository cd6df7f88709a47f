/// Notices the wall clock jumping and its synchronisation state changing, from samples of the
/// wall clock, a monotonic clock and the sync state. Between two samples the wall clock should
/// advance as the monotonic one does; a difference beyond `tolerance` is a jump (someone set the
/// clock, NTP stepped it, an RTC-less board booted at 1970 and was corrected). Pure: the daemon
/// samples and journals what this returns; tests feed samples.
package struct ClockWatch: Sendable {
    package struct Sample: Sendable, Equatable {
        package var wall: Timestamp
        /// A monotonic reading (any origin) that also counts suspended time.
        package var monotonic: Duration
        /// `synchronised`, `unsynchronised` or `unknown`.
        package var sync: String

        package init(wall: Timestamp, monotonic: Duration, sync: String) {
            self.wall = wall
            self.monotonic = monotonic
            self.sync = sync
        }
    }

    package enum Event: Sendable, Equatable {
        /// The wall clock moved `byMilliseconds` more (negative: less) than the time elapsed: it reads `observed` where `expected` was due.
        case jumped(byMilliseconds: Int64, expected: Timestamp, observed: Timestamp)
        /// The sync state is `state` (first seen, or changed from `previous`).
        case sync(state: String, previous: String?)
    }

    package let tolerance: Duration
    private var last: Sample?

    package init(tolerance: Duration = .seconds(2)) {
        self.tolerance = tolerance
    }

    package mutating func observe(_ sample: Sample) -> [Event] {
        defer { last = sample }
        guard let last else { return [.sync(state: sample.sync, previous: nil)] }
        var events: [Event] = []
        let elapsed = (sample.monotonic - last.monotonic).wholeMilliseconds
        let expected = last.wall.adding(milliseconds: elapsed)
        let drift = sample.wall.millisecondsSinceEpoch - expected.millisecondsSinceEpoch
        if abs(drift) > tolerance.wholeMilliseconds {
            events.append(.jumped(byMilliseconds: drift, expected: expected, observed: sample.wall))
        }
        if sample.sync != last.sync { events.append(.sync(state: sample.sync, previous: last.sync)) }
        return events
    }
}
