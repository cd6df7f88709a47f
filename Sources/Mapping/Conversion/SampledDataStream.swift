import EdgeCore

/// The SampledData `data` encoding: one token per `period` slot from `start` to `end` inclusive,
/// slot k covering `[start + k*period, start + (k+1)*period)`, holding the last value in it or `E`.
enum SampledDataStream {
    /// Values must be time-sorted. Values before `start` or beyond the last slot are left out.
    static func encode(_ values: [TimedValue], start: Timestamp, end: Timestamp, periodMilliseconds period: Int64) -> String {
        guard period > 0, end >= start else { return "" }
        let span = end.millisecondsSinceEpoch - start.millisecondsSinceEpoch
        let count = Int(span / period) + 1
        var slots = [Int](repeating: -1, count: count)
        for (i, value) in values.enumerated() {
            let offset = value.time.millisecondsSinceEpoch - start.millisecondsSinceEpoch
            // A value after `end` still counts while it falls into the last slot.
            guard offset >= 0, offset / period < Int64(count) else { continue }
            slots[Int(offset / period)] = i
        }
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for (k, slot) in slots.enumerated() {
            if k > 0 { out.append(UInt8(ascii: " ")) }
            if slot < 0 {
                out.append(UInt8(ascii: "E"))
            } else {
                out.append(contentsOf: values[slot].value.utf8)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The (slot start, token) pairs of a stream, `E` slots skipped.
    static func decode(_ data: String, start: Timestamp, periodMilliseconds period: Int64) -> [TimedValue] {
        var result: [TimedValue] = []
        var k: Int64 = 0
        for token in data.split(separator: " ", omittingEmptySubsequences: true) {
            if token != "E" {
                result.append(TimedValue(time: start.adding(milliseconds: k &* period), value: String(token)))
            }
            k += 1
        }
        return result
    }

    /// Both lists time-sorted; on equal times the new value replaces the existing one.
    static func merge(existing: [TimedValue], new: [TimedValue]) -> [TimedValue] {
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
