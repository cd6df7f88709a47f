/// `Duration` in the units the store, the timers, libcurl and libmodbus take. Whole units round
/// toward negative infinity and saturate instead of overflowing (a "forever" retention or
/// timeout stays the largest value, never a trap).
extension Duration {
    package var wholeMilliseconds: Int64 { whole(unitAttoseconds: 1_000_000_000_000_000) }

    package var wholeMicroseconds: Int64 { whole(unitAttoseconds: 1_000_000_000_000) }

    /// Seconds with their fraction, for metrics and JSON.
    package var fractionalSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private func whole(unitAttoseconds: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        let perSecond = 1_000_000_000_000_000_000 / unitAttoseconds
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: perSecond)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowAgain) = scaled.addingReportingOverflow(attoseconds / unitAttoseconds)
        if overflowAgain { return seconds < 0 ? .min : .max }
        return sum
    }
}
