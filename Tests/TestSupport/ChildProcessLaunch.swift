package import Foundation
import Glibc

extension Process {
    /// Starts the process from a fresh thread with SIGTERM and SIGINT unblocked. A child inherits
    /// its spawner's signal mask, and the threads async tests run on block those signals, so a
    /// peer or daemon spawned from an async test would otherwise ignore the SIGTERM that stops it
    /// (and a graceful-shutdown test would silently end in SIGKILL).
    package func runWithStopSignalsUnblocked() throws {
        let outcome = LaunchOutcome()
        let thread = Thread { [self] in
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGTERM)
            sigaddset(&signals, SIGINT)
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            do { try run() } catch { outcome.error = error }
            outcome.done.signal()
        }
        thread.start()
        outcome.done.wait()
        if let error = outcome.error { throw error }
    }
}

private final class LaunchOutcome: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var error: (any Error)?
}
