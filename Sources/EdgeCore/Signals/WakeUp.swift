/// A coalescing wake-up between one producer side and one waiting loop: any number of `wake()`
/// calls before the loop looks again count as one, so a burst of work costs one pass.
package struct WakeUp: Sendable {
    /// The loop's `for await _ in wakes`; it ends after `finish()`.
    package let wakes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    package init() {
        (wakes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    package func wake() {
        continuation.yield()
    }

    /// Ends the loop once it has seen the wake-ups already given.
    package func finish() {
        continuation.finish()
    }
}
