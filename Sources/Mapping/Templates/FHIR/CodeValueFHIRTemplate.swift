import FHIRModel

/// One `CodeValueFhir` template: how the measurements of one type become Observations.
/// Codings and categories are built once at load, so conversion only copies them.
struct CodeValueFHIRTemplate: Sendable {
    let typeName: String
    var periodInterval: ObservationPeriodInterval
    /// `Observation.code` codings from the template, before the connector coding.
    let codes: [Coding]
    var categories: [CodeableConcept]
    var value: FHIRValueTemplate?
    var components: [Component]
    /// `Observation.code` for a measurement type written exactly as `typeName` (the common case),
    /// built once here instead of copying and extending `codes` for every Observation.
    let concept: CodeableConcept

    init(
        typeName: String, periodInterval: ObservationPeriodInterval, codes: [Coding], categories: [CodeableConcept],
        value: FHIRValueTemplate?, components: [Component]
    ) {
        self.typeName = typeName
        self.periodInterval = periodInterval
        self.codes = codes
        self.categories = categories
        self.value = value
        self.components = components
        self.concept = ObservationBuilder.concept(codes: codes, name: typeName)
    }

    struct Component: Sendable {
        let codes: [Coding]
        let value: FHIRValueTemplate
        /// The component's `code`: its codes and the connector coding for the value name, built once.
        let concept: CodeableConcept

        init(codes: [Coding], value: FHIRValueTemplate) {
            self.codes = codes
            self.value = value
            self.concept = ObservationBuilder.concept(codes: codes, name: value.valueName)
        }
    }
}

/// How an observation group's values of one name become a FHIR `value[x]`.
struct FHIRValueTemplate: Sendable {
    var valueName: String
    var kind: Kind

    enum Kind: Sendable {
        /// All values of the window as one stream; `defaultPeriod` is the slot length in ms.
        case sampledData(defaultPeriod: Int64?, unit: String?)
        /// Exactly one value, parsed as a decimal.
        case quantity(unit: String?, system: String?, code: String?)
        /// Exactly one value, as is.
        case string
        /// The value's presence yields this fixed concept; the value itself is not used.
        case codeableConcept(CodeableConcept)
    }
}

/// `periodInterval`: how the measurements of one group are split into Observations.
enum ObservationPeriodInterval: Hashable, Sendable {
    /// `-1`: one Observation per correlation id, spanning its readings.
    case correlationId
    /// `0` (the default): one Observation per reading.
    case single
    /// `60`: one Observation per UTC hour.
    case hourly
    /// `1440`: one Observation per UTC day.
    case daily
    /// Any other number loads (as upstream) but fails conversion of the groups that use it.
    case unsupported(Int)

    init(minutes: Int) {
        switch minutes {
        case -1: self = .correlationId
        case 0: self = .single
        case 60: self = .hourly
        case 1440: self = .daily
        default: self = .unsupported(minutes)
        }
    }

    /// Upstream's enum names, accepted case-insensitively.
    init?(name: String) {
        switch name.lowercased() {
        case "correlationid": self = .correlationId
        case "single": self = .single
        case "hourly": self = .hourly
        case "daily": self = .daily
        default: return nil
        }
    }
}
