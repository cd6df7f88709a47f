
/// A coalescing wake-up between any number of producers and one waiting loop: `wake()` ends the
/// current `wait()`, or the next one when nobody waits, so a wake-up is never lost, and any number
/// of them before the loop looks again count as one (a burst of work costs one pass). The loop
/// either iterates `wakes` or calls `wait()` itself, e.g. racing it against a poll interval.
package final class WakeUp: Sendable {
    private struct State {
        var pending = false
        var finished = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state = Locked(State())

    package init() {}

    package func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(returning: true)
    }

    /// Ends the loop once it has seen the wake-up already given; later ones are dropped.
    package func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }

    /// Waits for a wake-up: true when woken, false once finished or when the waiting task is
    /// cancelled (cancelling ends the wait, never the wake-up).
    @discardableResult
    package func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer = state.withLock { state -> Bool? in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if state.finished || Task.isCancelled { return false }
                    state.waiter = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: false)
        }
    }

    /// The loop's `for await _ in wakes`: one element per (coalesced) wake-up; it ends after
    /// `finish()` or when the iterating task is cancelled.
    package var wakes: Wakes { Wakes(wakeUp: self) }

    package struct Wakes: AsyncSequence, Sendable {
        let wakeUp: WakeUp

        package struct AsyncIterator: AsyncIteratorProtocol {
            let wakeUp: WakeUp

            package mutating func next() async -> Void? {
                await wakeUp.wait() ? () : nil
            }
        }

        package func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(wakeUp: wakeUp)
        }
    }
}
