import FHIRConventions
package import EdgeCore
import FHIRModel

/// Turns a conversion batch of measurements into Observations with a FHIR mapping.
///
/// Measurements are grouped by device, type, patient, encounter and correlation id; each group is
/// split into observation groups by its template's `periodInterval`; each observation group becomes
/// one Observation. A failing group is reported in `errors` and never stops the others.
package struct ObservationConverter: Sendable {
    let templates: FHIRTemplateCollection
    let identity: ResourceIdentity
    let idPrecision: ObservationIdPrecision
    /// Value texts written as `dataAbsentReason` rather than rejected (none unless a profile asks).
    package var dataAbsentValues: DataAbsentValues = .none
    /// Each template's compiled plans, compiled when its first group converts.
    private let plans: ObservationPlans
    /// Whether Observations of a plan's shape are planned; off, every one is built as a model
    /// value (the general path, which tests compare the plans with).
    package var usesPlans = true

    package init(templates: FHIRTemplateCollection, identity: ResourceIdentity, idPrecision: ObservationIdPrecision = .millisecond) {
        self.templates = templates
        self.identity = identity
        self.idPrecision = idPrecision
        self.plans = ObservationPlans(templates: templates.templates)
    }

    /// Groups one conversion batch and builds one Observation per observation group.
    /// `issued` is the conversion time written to `Observation.issued`.
    package func convert(_ measurements: [Measurement], issued: Timestamp) -> ConversionResult {
        var result = ConversionResult()
        let issuedText = issued.iso8601
        // Observations with the same identity (only with second-precision ids: readings within one
        // second) merge into the first, as upstream's sequential upserts would; never two
        // resources with one id in a batch.
        var indexById: [String: Int] = [:]
        for group in MeasurementGroup.group(measurements) {
            let key = group.key
            guard let templateIndex = templates.templateIndex(forType: key.type) else {
                result.errors.append(ConversionError(
                    type: "TemplateNotFoundException",
                    message: "No FHIR template exists with the type name '\(key.type)'.",
                    groupKey: key, measurements: group.measurements))
                continue
            }
            let template = templates.templates[templateIndex]
            let resources: ResourceIdentity.ResolvedResources?
            let observationGroups: [ObservationGroup]
            do {
                resources = try identity.resolve(key)
                observationGroups = try template.periodInterval.observationGroups(
                    group.measurements, correlationId: key.correlationId, precision: idPrecision)
            } catch {
                result.errors.append(ConversionError(type: error.type, message: error.message, groupKey: key, measurements: group.measurements))
                continue
            }
            for observationGroup in observationGroups {
                do {
                    let converted: ConvertedObservation
                    if usesPlans, let subject = resources?.subject, let plan = plans.plan(forTemplate: templateIndex, subject: subject),
                        let planned = PlannedObservation(
                            plan: plan, type: key.type, resources: resources, issued: issuedText, absent: dataAbsentValues, group: observationGroup)
                    {
                        converted = ConvertedObservation(planned)
                    } else {
                        let builder = ObservationBuilder(
                            template: template, type: key.type, resources: resources, issued: issuedText, dataAbsentValues: dataAbsentValues)
                        var rejected: [ObservationBuilder.RejectedReading] = []
                        let observation = try builder.build(observationGroup, rejected: &rejected)
                        if !rejected.isEmpty {
                            let times = Set(rejected.map(\.time))
                            let names = Array(Set(rejected.map(\.valueName))).sorted().joined(separator: ", ")
                            result.errors.append(ConversionError(
                                type: "InvalidSampledDataValueException",
                                message: "SampledData value '\(names)' is not a decimal number; \(rejected.count) reading(s) left out of the Observation.",
                                groupKey: key, segment: observationGroup.segment,
                                measurements: observationGroup.measurements.filter { times.contains($0.occurrenceTime) }))
                        }
                        converted = ConvertedObservation(observation)
                    }
                    // The index is built only once a second Observation arrives: most batches of
                    // one message convert to one Observation, and hashing its id would be waste.
                    if indexById.isEmpty, result.converted.count == 1, let id = result.converted[0].id {
                        indexById[id] = 0
                    }
                    if let id = converted.id, let first = indexById[id] {
                        let existing = result.converted[first].observation
                        if var merged = try ObservationMerge.merge(existing: existing, new: converted.observation) {
                            merged.status = existing.status
                            result.converted[first] = ConvertedObservation(merged)
                        }
                    } else {
                        if let id = converted.id, !result.converted.isEmpty { indexById[id] = result.converted.count }
                        result.converted.append(converted)
                    }
                } catch let failure as GroupingFailure {
                    result.errors.append(ConversionError(
                        type: failure.type, message: failure.message, groupKey: key,
                        segment: observationGroup.segment, measurements: observationGroup.measurements))
                } catch let failure as ObservationMergeError {
                    result.errors.append(ConversionError(
                        type: failure.type, message: failure.message, groupKey: key,
                        segment: observationGroup.segment, measurements: observationGroup.measurements))
                } catch {
                    result.errors.append(ConversionError(
                        type: "Error", message: String(describing: error), groupKey: key,
                        segment: observationGroup.segment, measurements: observationGroup.measurements))
                }
            }
        }
        return result
    }
}
