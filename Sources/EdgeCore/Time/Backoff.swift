/// Exponential backoff with jitter, pure: the randomness is passed in. The uploader waits with
/// full jitter, device sessions with equal jitter; the exponential ceiling is the same.
package enum Backoff {
    /// `min(cap, base * 2^(failures-1))` in whole milliseconds; zero for no failures.
    package static func ceiling(base: Duration, cap: Duration, failures: Int) -> Duration {
        let base = base.wholeMilliseconds, cap = cap.wholeMilliseconds
        guard failures > 0, base > 0 else { return .zero }
        // Doubling past 2^40 ms (35 years) is beyond any cap; stop shifting before overflow.
        let (scaled, overflow) = base.multipliedReportingOverflow(by: Int64(1) << min(failures - 1, 40))
        return .milliseconds(overflow ? cap : min(cap, scaled))
    }

    /// Full jitter: uniform in `[0, ceiling]`, whole milliseconds.
    package static func fullJitter(_ ceiling: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling.wholeMilliseconds
        guard ceiling > 0 else { return .zero }
        return .milliseconds(Int64.random(in: 0...ceiling, using: &random))
    }

    /// Equal jitter: uniform in `[ceiling/2, ceiling]`, whole milliseconds.
    package static func equalJitter(_ ceiling: Duration, using random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling.wholeMilliseconds
        guard ceiling > 0 else { return .zero }
        let half = ceiling / 2
        return .milliseconds(half + Int64.random(in: 0...(ceiling - half), using: &random))
    }
}
