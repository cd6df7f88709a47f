import EdgeCore

/// The uploader's backoff: `EdgeCore.Backoff` with the retry policy's numbers and full jitter.
enum UploadBackoff {
    /// The upper bound of the wait after `failures` consecutive failures (1 = the first).
    static func ceiling(_ policy: RetryPolicy, failures: Int) -> Duration {
        Backoff.ceiling(base: policy.base, cap: policy.cap, failures: failures)
    }

    /// Full jitter: uniformly random in `[0, ceiling]`, whole milliseconds.
    static func delay(_ policy: RetryPolicy, failures: Int, using random: inout some RandomNumberGenerator) -> Duration {
        Backoff.fullJitter(ceiling(policy, failures: failures), using: &random)
    }

    /// The wait before the next attempt: the server's Retry-After when it gave one (capped),
    /// otherwise the jittered backoff.
    static func wait(_ policy: RetryPolicy, failures: Int, retryAfter: Duration?, using random: inout some RandomNumberGenerator) -> Duration {
        if let retryAfter { return min(max(retryAfter, .zero), policy.retryAfterCap) }
        return delay(policy, failures: failures, using: &random)
    }
}


/// The `Retry-After` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
enum RetryAfter {
    /// The wait the header asks for, measured from `now`; nil when absent or unreadable. A date
    /// in the past means "now" (zero).
    static func parse(_ value: String?, now: Timestamp) -> Duration? {
        guard let value = value?.trimmingSpaces, !value.isEmpty else { return nil }
        if value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Int64(value) else { return .seconds(Int64.max / 1_000_000) }
            return .seconds(seconds)
        }
        guard let date = httpDate(value) else { return nil }
        return .milliseconds(max(0, date.millisecondsSinceEpoch - now.millisecondsSinceEpoch))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers must send.
    static func httpDate(_ text: String) -> Timestamp? {
        let afterComma = text.split(separator: ",", maxSplits: 1).last.map(String.init) ?? text
        let parts = afterComma.split(separator: " ").map(String.init)
        guard parts.count == 5, parts[4].uppercased() == "GMT",
              let day = Int(parts[0]), let month = months.firstIndex(of: parts[1].lowercased()), let year = Int(parts[2])
        else { return nil }
        let time = parts[3].split(separator: ":").compactMap { Int($0) }
        guard time.count == 3, (1...31).contains(day), (0...23).contains(time[0]), (0...59).contains(time[1]), (0...60).contains(time[2])
        else { return nil }
        return Timestamp(Timestamp.Components(year: year, month: month + 1, day: day, hour: time[0], minute: time[1], second: time[2]))
    }
}
