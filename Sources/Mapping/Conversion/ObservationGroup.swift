import EdgeCore
import FHIRConventions

/// The measurements of one measurement group that become one Observation: a time window
/// (or a correlation id) and the values per property name, each sorted by time.
struct ObservationGroup {
    var start: Timestamp
    /// Inclusive: one millisecond before the next window starts.
    var end: Timestamp
    /// The identifier's last part: `yyyyMMddHHmmssZ.yyyyMMddHHmmssZ` or the correlation id.
    var segment: String
    private(set) var measurements: [Measurement] = []
    /// Property names in first-seen order with their values, once a second measurement joins:
    /// most groups hold one reading, which `values(named:)` reads from its properties.
    private var series: [(name: String, values: [TimedValue])] = []

    init(start: Timestamp, end: Timestamp, segment: String) {
        self.start = start
        self.end = end
        self.segment = segment
    }

    /// The values of `name`, sorted by time (equal times in arrival order); nil when none has it.
    func values(named name: String) -> [TimedValue]? {
        if measurements.count == 1 {
            let measurement = measurements[0]
            let values = measurement.properties.filter { $0.name == name }.map { TimedValue(time: measurement.occurrenceTime, value: $0.value) }
            return values.isEmpty ? nil : values
        }
        for entry in series where entry.name == name { return entry.values }
        return nil
    }

    /// The value of `name` when it has exactly one, without building the list.
    func singleValue(named name: String) -> String? {
        guard measurements.count == 1 else {
            guard let values = values(named: name), values.count == 1 else { return nil }
            return values[0].value
        }
        var found: String?
        for property in measurements[0].properties where property.name == name {
            guard found == nil else { return nil }
            found = property.value
        }
        return found
    }

    mutating func add(_ measurement: Measurement) {
        measurements.append(measurement)
        switch measurements.count {
        case 1: return
        case 2: index(measurements[0])
        default: break
        }
        index(measurement)
    }

    private mutating func index(_ measurement: Measurement) {
        for property in measurement.properties {
            let value = TimedValue(time: measurement.occurrenceTime, value: property.value)
            if let i = series.firstIndex(where: { $0.name == property.name }) {
                // Keep each series time-sorted; stable for equal times (arrival order).
                var position = series[i].values.count
                while position > 0, series[i].values[position - 1].time > value.time { position -= 1 }
                series[i].values.insert(value, at: position)
            } else {
                series.append((property.name, [value]))
            }
        }
    }
}

/// Why a measurement group cannot be split into observation groups.
struct GroupingFailure: Error {
    var type: String
    var message: String
}

extension ObservationPeriodInterval {
    static let hourMilliseconds: Int64 = 3_600_000
    static let dayMilliseconds: Int64 = 86_400_000

    /// Splits one measurement group's measurements into observation groups, in first-seen order.
    /// `precision` applies to Single windows only: hourly and daily windows start on whole
    /// hours, so their second-precision segments never collide and stay as upstream writes them.
    func observationGroups(
        _ measurements: [Measurement], correlationId: String?, precision: ObservationIdPrecision = .millisecond
    ) throws(GroupingFailure) -> [ObservationGroup] {
        let segmentPrecision: ObservationIdPrecision = self == .single ? precision : .second
        switch self {
        case .correlationId:
            guard let correlationId, !correlationId.isEmpty else {
                throw GroupingFailure(
                    type: "CorrelationIdNotDefinedException",
                    message: "periodInterval CorrelationId (-1) needs a correlation id, and the measurements have none.")
            }
            guard let first = measurements.first else { return [] }
            var start = first.occurrenceTime, end = first.occurrenceTime
            for m in measurements {
                start = min(start, m.occurrenceTime)
                end = max(end, m.occurrenceTime)
            }
            var group = ObservationGroup(start: start, end: end, segment: correlationId)
            for m in measurements { group.add(m) }
            return [group]
        case .single, .hourly, .daily:
            // One measurement, one window: no need for the index below.
            if measurements.count == 1 {
                let (start, end) = window(containing: measurements[0].occurrenceTime)
                var group = ObservationGroup(start: start, end: end, segment: Self.segment(start: start, end: end, precision: segmentPrecision))
                group.add(measurements[0])
                return [group]
            }
            var groups: [ObservationGroup] = []
            var byStart: [Timestamp: Int] = [:]
            for m in measurements {
                let (start, end) = window(containing: m.occurrenceTime)
                if let i = byStart[start] {
                    groups[i].add(m)
                } else {
                    byStart[start] = groups.count
                    var group = ObservationGroup(start: start, end: end, segment: Self.segment(start: start, end: end, precision: segmentPrecision))
                    group.add(m)
                    groups.append(group)
                }
            }
            return groups
        case .unsupported(let minutes):
            throw GroupingFailure(
                type: "NotSupportedException",
                message: "periodInterval \(minutes) is not supported; use -1 (CorrelationId), 0 (Single), 60 (Hourly) or 1440 (Daily).")
        }
    }

    /// The UTC window a reading at `t` belongs to (single, hourly and daily only).
    func window(containing t: Timestamp) -> (start: Timestamp, end: Timestamp) {
        let length: Int64
        switch self {
        case .hourly: length = Self.hourMilliseconds
        case .daily: length = Self.dayMilliseconds
        default: return (t, t)
        }
        let ms = t.millisecondsSinceEpoch
        let floored = ms >= 0 ? ms / length * length : ((ms - length + 1) / length) * length
        return (Timestamp(millisecondsSinceEpoch: floored), Timestamp(millisecondsSinceEpoch: floored + length - 1))
    }

    /// `yyyyMMddHHmmssZ.yyyyMMddHHmmssZ` (upstream's identifiers, second precision), or with
    /// `.millisecond` `yyyyMMddHHmmssfffZ.yyyyMMddHHmmssfffZ`, so that readings less than a second
    /// apart never share an identifier.
    static func segment(start: Timestamp, end: Timestamp, precision: ObservationIdPrecision = .second) -> String {
        // A single reading's window starts and ends at one instant: its fields are computed once.
        let a = start.components, b = start == end ? a : end.components
        let withMilliseconds = precision == .millisecond
        guard (0...9999).contains(a.year), (0...9999).contains(b.year) else {
            let ms = { (c: Timestamp.Components) in withMilliseconds ? "\(c.millisecond)" : "" }
            return "\(a.year)\(a.month)\(a.day)\(a.hour)\(a.minute)\(a.second)\(ms(a))Z.\(b.year)\(b.month)\(b.day)\(b.hour)\(b.minute)\(b.second)\(ms(b))Z"
        }
        let half = withMilliseconds ? 18 : 15
        return String(unsafeUninitializedCapacity: 2 * half + 1) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
            }
            // Two calls rather than a loop over an array literal, which would allocate per Observation.
            func stamp(_ c: Timestamp.Components, at base: Int) {
                put(c.year, 4, at: base)
                put(c.month, 2, at: base + 4)
                put(c.day, 2, at: base + 6)
                put(c.hour, 2, at: base + 8)
                put(c.minute, 2, at: base + 10)
                put(c.second, 2, at: base + 12)
                if withMilliseconds { put(c.millisecond, 3, at: base + 14) }
                buffer[base + half - 1] = UInt8(ascii: "Z")
            }
            stamp(a, at: 0)
            stamp(b, at: half + 1)
            buffer[half] = UInt8(ascii: ".")
            return 2 * half + 1
        }
    }
}
