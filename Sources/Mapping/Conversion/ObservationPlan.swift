import FHIRConventions
import EdgeCore
import EdgeCrypto
import FHIRModel
import JSONQuery

/// A FHIR template compiled once into the bytes of the Observations it builds most: one reading,
/// every value present as a Quantity, resource ids known. Everything but the holes (id,
/// identifier, subject, period, issued, the values, device) is the same for every such
/// Observation, so it is written once, at compile time, by `ObservationBuilder` and
/// `Observation.writeJSON` themselves, and only the holes are written per Observation. The bytes
/// are the ones the tree would give, by construction; `ObservationPlanTests` checks them against
/// the general path for every IoMT case and the shapes around them.
///
/// Any other group (several readings, a missing or non-numeric value, a data-absent reason, an
/// encounter, a type written in other casing) takes the general path.
final class ObservationPlan: Sendable {
    enum Hole: Hashable, Sendable {
        case id, identifierValue, subjectId, periodStart, periodEnd, issued, deviceId
        /// The decimal of `valueNames[index]`.
        case value(Int)
    }

    /// The template compiled, which builds the model value of a planned Observation.
    let template: CodeValueFHIRTemplate
    /// The value names whose Quantities the plan writes: the template's value, then its components.
    let valueNames: [String]
    /// The constant bytes, fragment after fragment: fragment `i` is `constant[ends[i - 1]..<ends[i]]`
    /// and hole `i` follows it; the last fragment closes the Observation.
    private let constant: [UInt8]
    private let ends: [Int]
    private let holes: [Hole]

    private init(template: CodeValueFHIRTemplate, valueNames: [String], fragments: [[UInt8]], holes: [Hole]) {
        self.template = template
        self.valueNames = valueNames
        self.constant = fragments.flatMap { $0 }
        var end = 0
        self.ends = fragments.map { fragment in
            end += fragment.count
            return end
        }
        self.holes = holes
    }

    /// The plans of one template, one per subject kind; nil when its Observations are not all of
    /// the plan's shape (a SampledData, string or CodeableConcept value; two values of one name).
    static func compile(_ template: CodeValueFHIRTemplate) -> [ObservationSubject: ObservationPlan]? {
        var plans: [ObservationSubject: ObservationPlan] = [:]
        for subject in ObservationSubject.allCases {
            guard let plan = compile(template, subject: subject) else { return nil }
            plans[subject] = plan
        }
        return plans
    }

    private static let sentinelSubject = "fhirEdgePlanSubject0x7e1d"
    private static let sentinelDevice = "fhirEdgePlanDevice0x7e1d"
    private static let sentinelIssued = "fhirEdgePlanIssued0x7e1d"
    private static let sentinelSegment = "fhirEdgePlanSegment0x7e1d"
    /// A start and an end no template spells out: 2987-06-05T04:03:02.001Z and one hour later.
    private static let sentinelStart = Timestamp(millisecondsSinceEpoch: 32_704_660_982_001)
    private static let sentinelEnd = Timestamp(millisecondsSinceEpoch: 32_704_664_582_001)

    /// The 18-digit integer standing for value `index` in the rendering.
    private static func sentinelValue(_ index: Int) -> String {
        "73409176581" + String(1_000_000 + index).dropFirst()
    }

    private static func compile(_ template: CodeValueFHIRTemplate, subject: ObservationSubject) -> ObservationPlan? {
        var valueNames: [String] = []
        for value in [template.value].compactMap({ $0 }) + template.components.map(\.value) {
            guard case .quantity = value.kind else { return nil }
            valueNames.append(value.valueName)
        }
        guard Set(valueNames).count == valueNames.count, valueNames.count < 1000 else { return nil }
        // The Observation of a reading whose every text is a sentinel, built and written as any other.
        let resources: ResourceIdentity.ResolvedResources = subject == .device
            ? .deviceSubject(deviceResourceId: sentinelDevice)
            : ResourceIdentity.ResolvedResources(patientResourceId: sentinelSubject, deviceResourceId: sentinelDevice)
        var group = ObservationGroup(start: sentinelStart, end: sentinelEnd, segment: sentinelSegment)
        group.add(Measurement(
            type: template.typeName, occurrenceTime: sentinelStart, deviceId: "d",
            properties: valueNames.indices.map { Measurement.Property(name: valueNames[$0], value: sentinelValue($0)) }))
        var rejected: [ObservationBuilder.RejectedReading] = []
        guard let observation = try? ObservationBuilder(template: template, type: template.typeName, resources: resources, issued: sentinelIssued)
            .build(group, rejected: &rejected), rejected.isEmpty
        else { return nil }
        var rendered: [UInt8] = []
        observation.writeJSON(into: &rendered)

        let subjectId = resources.subjectResourceId
        let identifierValue = ObservationBuilder.joined(subjectId, ".", sentinelDevice, ".", template.typeName, ".", sentinelSegment)
        let subjectPrefix = subject == .device ? "Device/" : "Patient/"
        // Each hole by the text before it, so that a sentinel inside a longer string is not taken for it.
        func spelled(_ text: String) -> [UInt8] {
            var content: [UInt8] = []
            JSONWriter.writeStringContent(text, into: &content)
            return content
        }
        var patterns: [(hole: Hole, before: String, text: [UInt8])] = [
            (.id, "\"id\":\"", spelled(ResourceIdentity.observationId(identifierValue: identifierValue))),
            (.identifierValue, "\"value\":\"", spelled(identifierValue)),
            (.subjectId, "\"subject\":{\"reference\":\"" + subjectPrefix, spelled(subjectId)),
            (.periodStart, "\"start\":\"", spelled(sentinelStart.iso8601)),
            (.periodEnd, "\"end\":\"", spelled(sentinelEnd.iso8601)),
            (.issued, "\"issued\":\"", spelled(sentinelIssued)),
            (.deviceId, "\"device\":{\"reference\":\"Device/", spelled(sentinelDevice)),
        ]
        for index in valueNames.indices {
            patterns.append((.value(index), "\"value\":", Array(sentinelValue(index).utf8)))
        }
        var found: [(range: Range<Int>, hole: Hole)] = []
        for pattern in patterns {
            let before = Array(pattern.before.utf8)
            // A string hole ends at its closing quote; a number at the first byte that is not a digit.
            let matches = occurrences(of: before + pattern.text, in: rendered).filter { start in
                let end = start + before.count + pattern.text.count
                guard end < rendered.count else { return false }
                return pattern.before.hasSuffix("\"") ? rendered[end] == UInt8(ascii: "\"") : !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(rendered[end])
            }
            guard matches.count == 1, let start = matches.first else { return nil }
            found.append(((start + before.count)..<(start + before.count + pattern.text.count), pattern.hole))
        }
        found.sort { $0.range.lowerBound < $1.range.lowerBound }
        var fragments: [[UInt8]] = []
        var position = 0
        for (range, _) in found {
            guard range.lowerBound >= position else { return nil }
            fragments.append(Array(rendered[position..<range.lowerBound]))
            position = range.upperBound
        }
        fragments.append(Array(rendered[position...]))
        return ObservationPlan(template: template, valueNames: valueNames, fragments: fragments, holes: found.map(\.hole))
    }

    private static func occurrences(of pattern: [UInt8], in bytes: [UInt8]) -> [Int] {
        guard !pattern.isEmpty, pattern.count <= bytes.count else { return [] }
        var matches: [Int] = []
        for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
            if bytes[start..<(start + pattern.count)].elementsEqual(pattern) { matches.append(start) }
        }
        return matches
    }

    /// Appends the Observation's compact JSON, byte for byte what `Observation.writeJSON` writes
    /// for the Observation `ObservationBuilder` builds from the same reading.
    func write(_ observation: PlannedObservation, issued: String, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + constant.count + 320)
        constant.withUnsafeBufferPointer { constant in
            var start = 0
            for (index, hole) in holes.enumerated() {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: constant[start..<ends[index]]))
                start = ends[index]
                write(hole, of: observation, issued: issued, into: &out)
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: constant[start...]))
        }
    }

    private func write(_ hole: Hole, of observation: PlannedObservation, issued: String, into out: inout [UInt8]) {
        switch hole {
        case .id: JSONWriter.writeStringContent(observation.id, into: &out)
        case .identifierValue: JSONWriter.writeStringContent(observation.identifierValue, into: &out)
        case .subjectId: JSONWriter.writeStringContent(observation.resources.subjectResourceId, into: &out)
        case .deviceId: JSONWriter.writeStringContent(observation.resources.deviceResourceId, into: &out)
        case .periodStart: observation.group.start.appendISO8601(to: &out)
        case .periodEnd: observation.group.end.appendISO8601(to: &out)
        case .issued: JSONWriter.writeStringContent(issued, into: &out)
        case .value(let value): observation.values[value].appendJSON(to: &out)
        }
    }
}

/// The plans of a template collection, each template's compiled the first time one of its
/// groups converts: a profile catalogue holds templates for devices a site may never connect,
/// and compiling them all cost start-up time and memory for nothing. Shared by copies of a
/// converter.
final class ObservationPlans: Sendable {
    private enum Slot: Sendable {
        case notCompiled
        /// nil: the template's Observations are not of a plan's shape.
        case compiled([ObservationSubject: ObservationPlan]?)
    }

    private let templates: [CodeValueFHIRTemplate]
    private let slots: Locked<[Slot]>

    init(templates: [CodeValueFHIRTemplate]) {
        self.templates = templates
        self.slots = Locked(Array(repeating: .notCompiled, count: templates.count))
    }

    func plan(forTemplate index: Int, subject: ObservationSubject) -> ObservationPlan? {
        slots.withLock { slots in
            if case .compiled(let plans) = slots[index] { return plans?[subject] }
            let plans = ObservationPlan.compile(templates[index])
            slots[index] = .compiled(plans)
            return plans?[subject]
        }
    }
}

/// An Observation of a plan's shape, kept as what its holes need; `observation` builds the
/// model value for the callers that need one (a merge, a receipt with extensions, printing).
/// A class: results are passed around and copied, and a copy is then one reference, not a
/// dozen.
final class PlannedObservation: Sendable {
    let plan: ObservationPlan
    let resources: ResourceIdentity.ResolvedResources
    /// The converter's issue time.
    let issued: String
    let group: ObservationGroup
    let values: [FHIRDecimal]
    let id: String
    let identifierValue: String

    /// The plan's Observation for `group` of measurements of `type`, or nil when the group is not
    /// of its shape (`absent` are the converter's data-absent values, which must name none of its values).
    init?(
        plan: ObservationPlan, type: String, resources: ResourceIdentity.ResolvedResources?, issued: String,
        absent: DataAbsentValues, group: ObservationGroup
    ) {
        guard let resources, resources.encounterResourceId == nil, type == plan.template.typeName, !issued.isEmpty,
            !resources.subjectResourceId.isEmpty, !resources.deviceResourceId.isEmpty
        else { return nil }
        var values: [FHIRDecimal] = []
        values.reserveCapacity(plan.valueNames.count)
        for name in plan.valueNames {
            guard let reading = group.singleValue(named: name), absent.reason(for: reading) == nil,
                let decimal = ObservationBuilder.parseDecimal(reading)
            else { return nil }
            values.append(decimal)
        }
        self.plan = plan
        self.resources = resources
        self.issued = issued
        self.group = group
        self.values = values
        identifierValue = ObservationBuilder.joined(
            resources.subjectResourceId, ".", resources.deviceResourceId, ".", type, ".", group.segment)
        id = ResourceIdentity.observationId(identifierValue: identifierValue)
    }

    /// What the general path builds for the same group. No value has a data-absent reason, so
    /// the builder needs none.
    var observation: Observation {
        let builder = ObservationBuilder(template: plan.template, type: plan.template.typeName, resources: resources, issued: issued)
        var rejected: [ObservationBuilder.RejectedReading] = []
        // The initializer checked every value the builder reads: it cannot fail.
        guard let built = try? builder.build(group, rejected: &rejected) else {
            preconditionFailure("a planned Observation's group no longer builds")
        }
        return built
    }
}
