/// Numbers for people (status page, `queue status`), as `printf("%.1f")` would print them
/// without `String(format:)`, which needs all of Foundation.
package enum DecimalText {
    /// `value` with one decimal: 12.34 gives "12.3", -0.05 gives "-0.1", 3 gives "3.0".
    package static func oneDecimal(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "\(value)" }
        let tenths = Int64((value * 10).rounded(.toNearestOrAwayFromZero))
        let magnitude = tenths.magnitude
        return (tenths < 0 ? "-" : "") + "\(magnitude / 10).\(magnitude % 10)"
    }
}
