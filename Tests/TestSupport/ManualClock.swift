import EdgeCore

/// A monotonic `Clock` that moves only when the test says so: sleepers wake in deadline order
/// (pollers and sessions that sleep between attempts). `TestClock` is the wall clock beside it.
package final class ManualClock: Clock, Sendable {
    package init() {}

    package struct Instant: InstantProtocol {
        package var offset: Duration
        package func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        package func duration(to other: Instant) -> Duration { other.offset - offset }
        package static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct Sleeper {
        var id: Int
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state = Locked(State())

    package var now: Instant { state.withLock { $0.now } }
    package var minimumResolution: Duration { .zero }

    package func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Checked under the lock: a cancellation handler that ran before this found no
                // sleeper to resume, so a cancelled task must not register (it would sleep forever).
                enum Outcome { case due, cancelled, sleeping }
                let outcome: Outcome = state.withLock { state in
                    if Task.isCancelled { return .cancelled }
                    if deadline <= state.now { return .due }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return .sleeping
                }
                switch outcome {
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .sleeping: break
                }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { state in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    package var sleeperCount: Int { state.withLock { $0.sleepers.count } }
    package var earliestDeadline: Duration? { state.withLock { $0.sleepers.map(\.deadline.offset).min() } }

    /// Moves to the earliest deadline and wakes the sleepers due then.
    package func advanceToNextDeadline() {
        let due: [Sleeper] = state.withLock { state in
            guard let earliest = state.sleepers.map(\.deadline).min() else { return [] }
            state.now = max(state.now, earliest)
            let due = state.sleepers.filter { $0.deadline <= earliest }
            state.sleepers.removeAll { $0.deadline <= earliest }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Runs the simulation: whenever all `tasks` sleep on this clock, jumps to the next deadline,
    /// until the clock would pass `end`.
    package func run(until end: Duration, tasks: Int) async throws {
        while true {
            var waited = 0
            while sleeperCount < tasks {
                waited += 1
                if waited > 20_000 { throw SimulationStalled(sleepers: sleeperCount, expected: tasks) }
                try await Task.sleep(for: .microseconds(100))
            }
            guard let next = earliestDeadline, next <= end else { return }
            advanceToNextDeadline()
        }
    }

    package struct SimulationStalled: Error {
        package var sleepers: Int
        package var expected: Int
    }
}
