/// How long a device session or a broker connection waits before connecting again: exponential in the number of
/// consecutive failures, capped, with "equal jitter" (half fixed, half random). The fixed half
/// keeps a session from hammering a device that drops every link at once; the random half keeps
/// a room of devices that went away together (a gateway restart, a power cut) from coming back
/// in lockstep and contending for the one create-connection the controller allows.
package struct ReconnectBackoff: Sendable, Equatable {
    /// The wait after the first failure (before jitter).
    package var base: Duration
    /// The longest wait, however many failures in a row.
    package var cap: Duration

    package init(base: Duration = .seconds(1), cap: Duration = .seconds(30)) {
        self.base = base
        self.cap = max(cap, base)
    }

    /// `min(cap, base * 2^(failures-1))`; zero for no failures.
    package func ceiling(failures: Int) -> Duration {
        Backoff.ceiling(base: base, cap: cap, failures: failures)
    }

    /// Uniform in `[ceiling/2, ceiling]`, whole milliseconds.
    package func delay(failures: Int, using random: inout some RandomNumberGenerator) -> Duration {
        Backoff.equalJitter(ceiling(failures: failures), using: &random)
    }
}
