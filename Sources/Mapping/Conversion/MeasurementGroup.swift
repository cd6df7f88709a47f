import EdgeCore

/// What measurements are grouped by before conversion: upstream's measurement-group key.
/// Compared exactly (case-sensitive), absent and empty ids are different values.
package struct MeasurementGroupKey: Hashable, Sendable, CustomStringConvertible {
    package var deviceId: String
    package var type: String
    package var patientId: String?
    package var encounterId: String?
    package var correlationId: String?

    package init(deviceId: String, type: String, patientId: String? = nil, encounterId: String? = nil, correlationId: String? = nil) {
        self.deviceId = deviceId
        self.type = type
        self.patientId = patientId
        self.encounterId = encounterId
        self.correlationId = correlationId
    }

    init(_ m: Measurement) {
        self.init(deviceId: m.deviceId, type: m.type, patientId: m.patientId, encounterId: m.encounterId, correlationId: m.correlationId)
    }

    /// Device and type only, so it may go to logs and dead-letter reasons: patient and encounter
    /// ids are patient data, and the correlation id may be made of them.
    package var description: String {
        "device=\(deviceId) type=\(type)"
    }
}

/// The measurements of one conversion batch that share a key, with same-time duplicates removed.
struct MeasurementGroup {
    var key: MeasurementGroupKey
    /// Arrival order; at most one measurement per occurrence time.
    var measurements: [Measurement]

    /// Groups a batch in first-seen order. Of several measurements with the same occurrence time
    /// the one received last is kept: by ingestion time, then by receive sequence. Measurements
    /// of one message (two templates emitting one type at one time) tie, and the first is kept.
    static func group(_ batch: [Measurement]) -> [MeasurementGroup] {
        // One message usually yields one measurement: no need for the indexes below.
        if batch.count == 1 { return [MeasurementGroup(key: MeasurementGroupKey(batch[0]), measurements: batch)] }
        var groups: [MeasurementGroup] = []
        var groupIndex: [MeasurementGroupKey: Int] = [:]
        var slotIndex: [[Timestamp: Int]] = []
        for measurement in batch {
            let key = MeasurementGroupKey(measurement)
            let g: Int
            if let existing = groupIndex[key] {
                g = existing
            } else {
                g = groups.count
                groupIndex[key] = g
                groups.append(MeasurementGroup(key: key, measurements: []))
                slotIndex.append([:])
            }
            if let slot = slotIndex[g][measurement.occurrenceTime] {
                let kept = groups[g].measurements[slot]
                if Self.isLater(measurement, than: kept) {
                    groups[g].measurements[slot] = measurement
                }
            } else {
                slotIndex[g][measurement.occurrenceTime] = groups[g].measurements.count
                groups[g].measurements.append(measurement)
            }
        }
        return groups
    }

    private static func isLater(_ a: Measurement, than b: Measurement) -> Bool {
        if a.ingestionTime != b.ingestionTime { return isLater(a.ingestionTime, than: b.ingestionTime) }
        return isLater(a.receiveSequence, than: b.receiveSequence)
    }

    private static func isLater<T: Comparable>(_ a: T?, than b: T?) -> Bool {
        guard let a else { return false }
        guard let b else { return true }
        return a > b
    }
}
