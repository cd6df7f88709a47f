import EdgeCore
package import FHIRModel

/// Why new data cannot be merged into a stored Observation.
package struct ObservationMergeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Upstream's exception name (`NotSupportedException`).
    package var type: String
    package var message: String

    package init(type: String = "NotSupportedException", message: String) {
        self.type = type
        self.message = message
    }

    package var description: String { "\(type): \(message)" }
}

/// Merges a newly built Observation into the stored one with the same identifier (upstream's
/// update path): the stored `code`, `identifier`, `subject`, `device` and `issued` are kept,
/// `category` is replaced by the template's, values and components are merged, the period is
/// widened, and the status becomes `amended`.
package enum ObservationMerge {
    /// The Observation to write, or nil when the merge changes nothing (no write needed).
    package static func merge(existing: Observation, new: Observation) throws(ObservationMergeError) -> Observation? {
        var merged = existing
        merged.category = new.category
        let existingWindow = try window(of: existing.effectivePeriod, name: "stored")
        let newWindow = try window(of: new.effectivePeriod, name: "new")
        let union: Window? = switch (existingWindow, newWindow) {
        case (let a?, let b?): Window(start: min(a.start, b.start), end: max(a.end, b.end))
        case (let a?, nil): a
        case (nil, let b?): b
        case (nil, nil): nil
        }
        if let newValue = new.value {
            merged.value = try mergeValue(existing.value, newValue, existingWindow, newWindow, union)
        }
        for component in new.component {
            let name = connectorCode(of: component.code)
            if let name, let i = merged.component.firstIndex(where: { connectorCode(of: $0.code) == name }) {
                if let newValue = component.value {
                    merged.component[i].value = try mergeValue(merged.component[i].value, newValue, existingWindow, newWindow, union)
                }
            } else {
                merged.component.append(component)
            }
        }
        merged.effectivePeriod = widen(existing.effectivePeriod, existingWindow, by: new.effectivePeriod, newWindow)
        guard merged != existing else { return nil }
        merged.status = .amended
        return merged
    }

    struct Window {
        var start: Timestamp
        var end: Timestamp
    }

    private static func window(of period: Period?, name: String) throws(ObservationMergeError) -> Window? {
        guard let period, let startText = period.start else { return nil }
        guard let start = Timestamp(parsingISO8601Lenient: startText) else {
            throw ObservationMergeError(type: "FormatException", message: "The \(name) effectivePeriod.start is not a date-time.")
        }
        guard let endText = period.end else { return Window(start: start, end: start) }
        guard let end = Timestamp(parsingISO8601Lenient: endText) else {
            throw ObservationMergeError(type: "FormatException", message: "The \(name) effectivePeriod.end is not a date-time.")
        }
        return Window(start: start, end: end)
    }

    /// Keeps the stored text of a bound the new period does not move, so an unchanged
    /// Observation compares equal whatever precision the server wrote.
    private static func widen(_ stored: Period?, _ storedWindow: Window?, by new: Period?, _ newWindow: Window?) -> Period? {
        guard let stored, let storedWindow else { return new ?? stored }
        guard let new, let newWindow else { return stored }
        var result = stored
        if newWindow.start < storedWindow.start { result.start = new.start }
        if newWindow.end > storedWindow.end { result.end = new.end ?? new.start }
        return result
    }

    private static func connectorCode(of concept: CodeableConcept) -> String? {
        concept.coding.first { $0.system == ResourceIds.connectorSystem }?.code
    }

    private static func mergeValue(
        _ existing: ObservationValue?, _ new: ObservationValue, _ existingWindow: Window?, _ newWindow: Window?, _ union: Window?
    ) throws(ObservationMergeError) -> ObservationValue {
        guard let existing else { return new }
        switch (existing, new) {
        case (.sampledData(var stored), .sampledData(let incoming)):
            guard stored.dimensions <= 1 else {
                throw ObservationMergeError(message: "Stored SampledData has \(stored.dimensions) dimensions; only 1 can be merged.")
            }
            guard let existingWindow, let newWindow, let union else {
                throw ObservationMergeError(message: "SampledData can only be merged with an effectivePeriod on both Observations.")
            }
            let storedPeriod = try periodMilliseconds(stored.period, name: "stored")
            let incomingPeriod = try periodMilliseconds(incoming.period, name: "new")
            guard SampledDataStream.slotCount(start: union.start, end: union.end, periodMilliseconds: storedPeriod) != nil else {
                throw ObservationMergeError(message: "The merged SampledData window would need more than \(SampledDataStream.maximumSlots) slots.")
            }
            let old = SampledDataStream.decode(stored.data ?? "", start: existingWindow.start, periodMilliseconds: storedPeriod)
            let added = SampledDataStream.decode(incoming.data ?? "", start: newWindow.start, periodMilliseconds: incomingPeriod)
            let values = SampledDataStream.merge(existing: old, new: added)
            stored.data = SampledDataStream.encode(values, start: union.start, end: union.end, periodMilliseconds: storedPeriod)
            return .sampledData(stored)
        case (.quantity, .quantity), (.string, .string), (.codeableConcept, .codeableConcept):
            return new
        default:
            throw ObservationMergeError(
                message: "Element existingValue expected to be of type \(new.elementName), found \(existing.elementName).")
        }
    }

    private static func periodMilliseconds(_ period: FHIRDecimal, name: String) throws(ObservationMergeError) -> Int64 {
        let ms = period.doubleValue.rounded()
        guard ms >= 1, ms < 1e12 else {
            throw ObservationMergeError(message: "The \(name) SampledData period must be at least 1 ms.")
        }
        return Int64(ms)
    }
}
