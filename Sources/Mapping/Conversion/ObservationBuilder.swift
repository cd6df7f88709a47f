import FHIRConventions
import EdgeCore
import FHIRModel
import JSONQuery

/// Builds a new Observation from one observation group (upstream's CodeValueFhirTemplateProcessor).
struct ObservationBuilder {
    let template: CodeValueFHIRTemplate
    /// The measurement's type as written (code text and connector coding use it, not the template's casing).
    let type: String
    let resources: ResourceIdentity.ResolvedResources?
    let issued: String
    var dataAbsentValues: DataAbsentValues = .none

    /// A SampledData reading that is not a number: left out of the stream (FHIR allows only
    /// decimals and `E` there) and reported, while the rest of the window is still written.
    struct RejectedReading {
        var valueName: String
        var time: Timestamp
    }

    func build(_ group: ObservationGroup, rejected: inout [RejectedReading]) throws(GroupingFailure) -> Observation {
        var observation = Observation(
            status: .final,
            category: template.categories,
            code: type == template.typeName ? template.concept : Self.concept(codes: template.codes, name: type),
            effectivePeriod: Self.period(group),
            issued: issued)
        if let valueTemplate = template.value, let values = group.values(named: valueTemplate.valueName) {
            if let reason = absentReason(valueTemplate, values) {
                observation.otherElements["dataAbsentReason"] = reason.json
            } else {
                observation.value = try Self.value(valueTemplate, values, group, rejected: &rejected)
            }
        }
        for component in template.components {
            guard let values = group.values(named: component.value.valueName) else { continue }
            let code = component.concept
            if let reason = absentReason(component.value, values) {
                observation.component.append(Observation.Component(code: code, otherElements: ["dataAbsentReason": reason.json]))
            } else {
                observation.component.append(Observation.Component(code: code, value: try Self.value(component.value, values, group, rejected: &rejected)))
            }
        }
        if let resources {
            let subject = resources.subjectResourceId
            let value = Self.joined(subject, ".", resources.deviceResourceId, ".", type, ".", group.segment)
            observation.identifier = [Identifier(system: ResourceIds.connectorSystem, value: value)]
            observation.id = ResourceIdentity.observationId(identifierValue: value)
            observation.subject = Reference(reference: Self.joined(resources.subject == .device ? "Device/" : "Patient/", subject))
            observation.device = Reference(reference: Self.joined("Device/", resources.deviceResourceId))
            if let encounter = resources.encounterResourceId {
                observation.encounter = Reference(reference: "Encounter/\(encounter)")
            }
        }
        return observation
    }

    /// The data-absent reason of a Quantity whose one reading is a special value the profile
    /// names (NaN...); nil for everything else, which converts (or fails) as MedTech's would.
    func absentReason(_ template: FHIRValueTemplate, _ values: [TimedValue]) -> CodeableConcept? {
        guard case .quantity = template.kind, values.count == 1 else { return nil }
        return dataAbsentValues.reason(for: values[0].value)
    }

    /// A single reading's window starts and ends at the same instant: one string serves both.
    static func period(_ group: ObservationGroup) -> Period {
        let start = group.start.iso8601
        return Period(start: start, end: group.start == group.end ? start : group.end.iso8601)
    }

    /// Concatenation by copying bytes into one allocation of the right size: interpolation and
    /// `+=` grow their buffer as they go and cost more than the copying, and ids are 64 hex digits.
    static func joined(_ parts: String...) -> String {
        let count = parts.reduce(0) { $0 + $1.utf8.count }
        return String(unsafeUninitializedCapacity: count) { buffer in
            var offset = 0
            for var part in parts {
                part.withUTF8 { bytes in
                    guard let source = bytes.baseAddress else { return }
                    (buffer.baseAddress! + offset).initialize(from: source, count: bytes.count)
                    offset += bytes.count
                }
            }
            return offset
        }
    }

    /// Template codes followed by the connector coding for `name`; `text` = `name`.
    static func concept(codes: [Coding], name: String) -> CodeableConcept {
        var coding = codes
        coding.append(Coding(system: ResourceIds.connectorSystem, code: name, display: name))
        return CodeableConcept(coding: coding, text: name)
    }

    static func value(
        _ template: FHIRValueTemplate, _ values: [TimedValue], _ group: ObservationGroup, rejected: inout [RejectedReading]
    ) throws(GroupingFailure) -> ObservationValue {
        switch template.kind {
        case .sampledData(let period, let unit):
            guard let period else {
                throw GroupingFailure(
                    type: "ArgumentNullException",
                    message: "SampledData value '\(template.valueName)' has no defaultPeriod in the FHIR template.")
            }
            guard SampledDataStream.slotCount(start: group.start, end: group.end, periodMilliseconds: period) != nil else {
                throw GroupingFailure(
                    type: "NotSupportedException",
                    message: "SampledData value '\(template.valueName)' would need more than \(SampledDataStream.maximumSlots) slots of \(period) ms for this window.")
            }
            var numeric: [TimedValue] = []
            numeric.reserveCapacity(values.count)
            for value in values {
                if let decimal = parseDecimal(value.value) {
                    numeric.append(TimedValue(time: value.time, value: decimal.text))
                } else {
                    rejected.append(RejectedReading(valueName: template.valueName, time: value.time))
                }
            }
            let data = SampledDataStream.encode(numeric, start: group.start, end: group.end, periodMilliseconds: period)
            return .sampledData(SampledData(
                origin: Quantity(value: FHIRDecimal(0), unit: unit), period: FHIRDecimal(period), dimensions: 1, data: data))
        case .quantity(let unit, let system, let code):
            guard values.count == 1 else {
                throw GroupingFailure(
                    type: "InvalidQuantityFhirValueException",
                    message: "Quantity value '\(template.valueName)' expected 1 value. Received \(values.count).")
            }
            guard let decimal = parseDecimal(values[0].value) else {
                throw GroupingFailure(
                    type: "InvalidQuantityFhirValueException",
                    message: "Quantity value '\(template.valueName)' is not a decimal number.")
            }
            return .quantity(Quantity(value: decimal, unit: unit, system: system, code: code))
        case .string:
            guard values.count == 1 else {
                throw GroupingFailure(
                    type: "InvalidOperationException",
                    message: "String value '\(template.valueName)' expected 1 value. Received \(values.count).")
            }
            return .string(values[0].value)
        case .codeableConcept(let concept):
            return .codeableConcept(concept)
        }
    }

    /// Parses like .NET `decimal.Parse` with the invariant culture: surrounding whitespace, a
    /// leading sign, `,` group separators and a `.` fraction; no exponent. The result is
    /// normalised to a JSON number literal (`+1,000.` -> `1000`, `.5` -> `0.5`).
    static func parseDecimal(_ text: String) -> FHIRDecimal? {
        // Most readings are plain integers already in normal form (`78`): they are their own literal.
        if let first = text.utf8.first, first != UInt8(ascii: "0") || text.utf8.count == 1, text.utf8.count <= 18,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let integer = Int64(text)
        {
            return FHIRDecimal(integer)
        }
        var bytes = Array(text.utf8)[...]
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        while let first = bytes.first, isSpace(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, isSpace(last) { bytes = bytes.dropLast() }
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var integer: [UInt8] = []
        var fraction: [UInt8] = []
        var seenPoint = false
        var seenDigit = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                seenDigit = true
                if seenPoint { fraction.append(byte) } else { integer.append(byte) }
            case UInt8(ascii: ","):
                guard !seenPoint else { return nil }
            case UInt8(ascii: "."):
                guard !seenPoint else { return nil }
                seenPoint = true
            default:
                return nil
            }
        }
        guard seenDigit else { return nil }
        while integer.count > 1, integer.first == UInt8(ascii: "0") { integer.removeFirst() }
        if integer.isEmpty { integer = [UInt8(ascii: "0")] }
        var literal = negative ? "-" : ""
        literal += String(decoding: integer, as: UTF8.self)
        if !fraction.isEmpty { literal += "." + String(decoding: fraction, as: UTF8.self) }
        return FHIRDecimal(literal)
    }
}
