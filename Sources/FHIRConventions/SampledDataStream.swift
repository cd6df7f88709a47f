package import EdgeCore

/// One reading of one property inside an observation group, or one slot of a stream.
package struct TimedValue: Hashable, Sendable {
    package var time: Timestamp
    package var value: String

    package init(time: Timestamp, value: String) {
        self.time = time
        self.value = value
    }
}

/// The SampledData `data` encoding: one token per `period` slot from `start` to `end` inclusive,
/// slot k covering `[start + k*period, start + (k+1)*period)`, holding the last value in it or `E`.
package enum SampledDataStream {
    /// `E E E ... E` (odd length), copied in chunks for runs of empty slots.
    private static let emptyRun: [UInt8] = Array(repeating: Array("E ".utf8), count: 2048).flatMap { $0 }.dropLast()

    /// The most slots one stream may have (a day at 100 ms is 864 000). A correlation group
    /// spanning months, or a 1 ms period over a day, is refused instead of exhausting memory.
    package static let maximumSlots: Int64 = 1_000_000

    /// The number of slots from `start` to `end` inclusive, or nil beyond `maximumSlots`.
    package static func slotCount(start: Timestamp, end: Timestamp, periodMilliseconds period: Int64) -> Int? {
        guard period > 0, end >= start else { return 0 }
        let (span, overflow) = end.millisecondsSinceEpoch.subtractingReportingOverflow(start.millisecondsSinceEpoch)
        guard !overflow, span / period < maximumSlots else { return nil }
        return Int(span / period) + 1
    }

    /// Values must be time-sorted. Values before `start` or beyond the last slot are left out.
    /// Callers check `slotCount` first; a window beyond the limit encodes as an empty stream.
    package static func encode(_ values: [TimedValue], start: Timestamp, end: Timestamp, periodMilliseconds period: Int64) -> String {
        guard let count = slotCount(start: start, end: end, periodMilliseconds: period), count > 0 else { return "" }
        var slots = [Int](repeating: -1, count: count)
        for (i, value) in values.enumerated() {
            let offset = value.time.millisecondsSinceEpoch &- start.millisecondsSinceEpoch
            // A value after `end` still counts while it falls into the last slot.
            guard offset >= 0, offset / period < Int64(count) else { continue }
            slots[Int(offset / period)] = i
        }
        // Most slots are empty: copy runs of "E" tokens from one template instead of slot by slot.
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        var pendingEmpty = 0
        func flushEmpty(_ out: inout [UInt8], _ n: Int, first: Bool) {
            guard n > 0 else { return }
            if !first { out.append(UInt8(ascii: " ")) }
            let run = 2 * n - 1
            emptyRun.withUnsafeBufferPointer { pattern in
                var remaining = run
                while remaining > 0 {
                    let take = min(remaining, pattern.count)
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: pattern[0..<take]))
                    remaining -= take
                    // A chunk of odd length ends in "E"; the next one must start with " E".
                    if remaining > 0 { out.append(UInt8(ascii: " ")); remaining -= 1 }
                }
            }
        }
        var written = 0
        for slot in slots {
            if slot < 0 {
                pendingEmpty += 1
                continue
            }
            flushEmpty(&out, pendingEmpty, first: written == 0)
            written += pendingEmpty
            pendingEmpty = 0
            if written > 0 { out.append(UInt8(ascii: " ")) }
            out.append(contentsOf: values[slot].value.utf8)
            written += 1
        }
        flushEmpty(&out, pendingEmpty, first: written == 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// The (slot start, token) pairs of a stream, `E` slots skipped.
    package static func decode(_ data: String, start: Timestamp, periodMilliseconds period: Int64) -> [TimedValue] {
        var result: [TimedValue] = []
        var k: Int64 = 0
        for token in data.split(separator: " ", omittingEmptySubsequences: true) {
            // Tokens past the limit cannot be re-encoded anyway (and k * period must not overflow).
            guard k < maximumSlots else { break }
            if token != "E" {
                result.append(TimedValue(time: start.adding(milliseconds: k &* period), value: String(token)))
            }
            k += 1
        }
        return result
    }

    /// Both lists time-sorted; on equal times the new value replaces the existing one.
    package static func merge(existing: [TimedValue], new: [TimedValue]) -> [TimedValue] {
        var result: [TimedValue] = []
        result.reserveCapacity(existing.count + new.count)
        var i = 0, j = 0
        while i < existing.count || j < new.count {
            if j == new.count || (i < existing.count && existing[i].time < new[j].time) {
                result.append(existing[i]); i += 1
            } else if i == existing.count || new[j].time < existing[i].time {
                result.append(new[j]); j += 1
            } else {
                result.append(new[j]); i += 1; j += 1
            }
        }
        return result
    }
}
