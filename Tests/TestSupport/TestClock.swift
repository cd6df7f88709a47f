package import EdgeCore

/// The wall clock tests inject (`now: @Sendable () -> Timestamp`): it moves only when the test
/// moves it, or when code under test sleeps through `sleep`, which records the wait and jumps
/// over it, so backoff runs in no time and can be asserted.
package final class TestClock: Sendable {
    private let state: Locked<(now: Int64, sleeps: [Duration])>

    package init(_ start: Timestamp = Timestamp(millisecondsSinceEpoch: 1_800_000_000_123)) {
        state = Locked((start.millisecondsSinceEpoch, []))
    }

    package var now: Timestamp { Timestamp(millisecondsSinceEpoch: state.withLock { $0.now }) }
    /// Every wait passed to `sleep`, in order.
    package var sleeps: [Duration] { state.withLock { $0.sleeps } }

    package func advance(_ duration: Duration) { advance(milliseconds: duration.wholeMilliseconds) }
    package func advance(milliseconds: Int64) { state.withLock { $0.now += milliseconds } }
    package func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }

    package var function: @Sendable () -> Timestamp { { [self] in now } }
    package var sleep: @Sendable (Duration) async throws -> Void {
        { [self] duration in
            state.withLock { $0.sleeps.append(duration) }
            advance(duration)
        }
    }
}
