import FHIRModel
import JSONQuery

/// A loaded FHIR mapping (`CollectionFhir` of `CodeValueFhir` templates), ready to convert
/// measurements. Loading is strict and reports every problem of the file at once.
package struct FHIRTemplateCollection: Sendable {
    let templates: [CodeValueFHIRTemplate]
    /// Exact type name -> template, the common case on the hot path.
    private let byExactName: [String: Int]
    /// Lower-cased type name -> template, for upstream's case-insensitive lookup.
    private let byFoldedName: [String: Int]

    /// The templates' type names in file order.
    package var typeNames: [String] { templates.map(\.typeName) }

    /// Parses a fhirmapping.json. As in MedTech (Json.NET), `//` and `/* */` comments and
    /// trailing commas are allowed.
    package init(parsing text: String, source: String) throws(TemplateLoadError) {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: text, options: .template)
        } catch {
            throw TemplateLoadError(problems: [
                TemplateProblem(source: source, line: error.line, message: "Invalid JSON: \(error.description)")
            ])
        }
        var loader = FHIRTemplateLoader(source: source, lines: SubTemplateLines.scan(text))
        let templates = loader.load(json)
        guard loader.problems.isEmpty else { throw TemplateLoadError(problems: loader.problems) }
        self.init(templates: templates)
    }

    init(templates: [CodeValueFHIRTemplate]) {
        self.templates = templates
        var exact: [String: Int] = [:]
        var folded: [String: Int] = [:]
        for (index, template) in templates.enumerated() {
            if exact[template.typeName] == nil { exact[template.typeName] = index }
            let key = template.typeName.lowercased()
            if folded[key] == nil { folded[key] = index }
        }
        byExactName = exact
        byFoldedName = folded
    }

    /// The template for a measurement type, matched case-insensitively as upstream does.
    func template(forType type: String) -> CodeValueFHIRTemplate? {
        templateIndex(forType: type).map { templates[$0] }
    }

    /// The position in `templates` of `template(forType:)`.
    func templateIndex(forType type: String) -> Int? {
        byExactName[type] ?? byFoldedName[type.lowercased()]
    }
}

/// Reads a FHIR mapping file into templates, collecting problems.
struct FHIRTemplateLoader {
    let source: String
    let lines: [SubTemplateLines.Entry]
    private(set) var problems: [TemplateProblem] = []

    init(source: String, lines: [SubTemplateLines.Entry]) {
        self.source = source
        self.lines = lines
    }

    static let rootNames = ["CollectionFhirTemplate", "CollectionFhir"]
    static let templateNames = ["CodeValueFhirTemplate", "CodeValueFhir"]

    mutating func load(_ json: JSONValue) -> [CodeValueFHIRTemplate] {
        let rootLocation = TemplateLocation(source: source, line: 1)
        var root = TemplateObjectReader(json, typeName: "TemplateContainer", location: rootLocation)
        defer {
            root.finish()
            problems.insert(contentsOf: root.problems, at: 0)
        }
        guard root.isObject else { return [] }
        let rootType = root.member("templateType")
        guard case .string(let typeName)? = rootType, Self.matches(typeName, Self.rootNames) else {
            let actual = rootType?.stringValue ?? rootType.map { $0.description } ?? "null"
            root.report("templateType", "Expected TemplateType value CollectionFhirTemplate, actual \(actual).")
            root.ignore("template")
            return []
        }
        guard let elements = root.member("template")?.arrayValue else {
            root.report("template", "Expected an array for the template property value for template type CollectionFhirTemplate.")
            return []
        }
        var templates: [CodeValueFHIRTemplate] = []
        var indexByName: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            let line = index < lines.count ? lines[index].best : nil
            guard let template = loadElement(element, index: index, line: line) else { continue }
            let key = template.typeName.lowercased()
            if indexByName[key] != nil {
                problems.append(TemplateProblem(
                    source: source, templateIndex: index, templateType: "CodeValueFhir", field: "typeName", line: line,
                    message: "Duplicate template defined for type name: '\(template.typeName)'."))
                continue
            }
            indexByName[key] = templates.count
            templates.append(template)
        }
        return templates
    }

    private mutating func loadElement(_ element: JSONValue, index: Int, line: Int?) -> CodeValueFHIRTemplate? {
        let location = TemplateLocation(source: source, templateIndex: index, line: line)
        var wrapper = TemplateObjectReader(element, typeName: "TemplateContainer", location: location)
        defer {
            wrapper.finish()
            problems.append(contentsOf: wrapper.problems)
        }
        guard wrapper.isObject else { return nil }
        let kind = wrapper.requiredString("templateType")
        guard let body = wrapper.required("template") else { return nil }
        guard let kind else { return nil }
        guard Self.matches(kind, Self.templateNames) else {
            wrapper.report("templateType", "No match found for template type \(kind).")
            return nil
        }
        var bodyLocation = location
        bodyLocation.templateType = kind
        var reader = TemplateObjectReader(body, typeName: "CodeValueFhirTemplate", location: bodyLocation)
        let template = Self.readTemplate(&reader)
        reader.finish()
        let before = problems.count
        problems.append(contentsOf: reader.problems)
        return problems.count == before ? template : nil
    }

    private static func readTemplate(_ r: inout TemplateObjectReader) -> CodeValueFHIRTemplate? {
        guard r.isObject else { return nil }
        let typeName = r.requiredString("typeName")
        if let typeName, TemplateObjectReader.trimmingASCIIWhitespace(typeName).isEmpty {
            r.report("typeName", "Empty type name is not allowed.")
        }
        let interval = readPeriodInterval(&r)
        let codes = r.requiredArray("codes").map { readCodes($0, member: "codes", in: &r) } ?? []
        var categories: [CodeableConcept] = []
        if let elements = r.optionalArray("category") {
            for (i, element) in elements.enumerated() {
                var nested = r.nested(element, member: "category[\(i)]", typeName: "FhirCodeableConcept")
                if let concept = readConcept(&nested), concept != CodeableConcept() { categories.append(concept) }
                nested.finish()
                r.absorb(nested.problems)
            }
        }
        var value: FHIRValueTemplate?
        if let json = r.optional("value") {
            var nested = r.nested(json, member: "value", typeName: "FhirValueType")
            value = readValue(&nested)
            nested.finish()
            r.absorb(nested.problems)
        }
        var components: [CodeValueFHIRTemplate.Component] = []
        if let elements = r.optionalArray("components") {
            for (i, element) in elements.enumerated() {
                var nested = r.nested(element, member: "components[\(i)]", typeName: "CodeValueMapping")
                if nested.isObject {
                    let codes = nested.optionalArray("codes").map { readCodes($0, member: "codes", in: &nested) } ?? []
                    if let json = nested.required("value") {
                        var valueReader = nested.nested(json, member: "value", typeName: "FhirValueType")
                        if let value = readValue(&valueReader) {
                            components.append(.init(codes: codes, value: value))
                        }
                        valueReader.finish()
                        nested.absorb(valueReader.problems)
                    }
                }
                nested.finish()
                r.absorb(nested.problems)
            }
        }
        guard let typeName, let interval else { return nil }
        return CodeValueFHIRTemplate(
            typeName: typeName, periodInterval: interval, codes: codes, categories: categories,
            value: value, components: components)
    }

    private static func readPeriodInterval(_ r: inout TemplateObjectReader) -> ObservationPeriodInterval? {
        guard let json = r.optional("periodInterval") else { return .single }
        switch json {
        case .string(let text):
            let trimmed = String(TemplateObjectReader.trimmingASCIIWhitespace(text))
            if let minutes = Int(trimmed) { return ObservationPeriodInterval(minutes: minutes) }
            if let named = ObservationPeriodInterval(name: trimmed) { return named }
            r.report("periodInterval", "Requested value '\(text)' was not found; expected -1 (CorrelationId), 0 (Single), 60 (Hourly) or 1440 (Daily).")
            return nil
        default:
            guard let minutes = r.int(json, member: "periodInterval") else { return nil }
            return ObservationPeriodInterval(minutes: minutes)
        }
    }

    private static func readCodes(_ elements: [JSONValue], member: String, in r: inout TemplateObjectReader) -> [Coding] {
        var codes: [Coding] = []
        for (i, element) in elements.enumerated() {
            var nested = r.nested(element, member: "\(member)[\(i)]", typeName: "FhirCode")
            if nested.isObject {
                let coding = Coding(
                    system: nonEmpty(nested.optionalString("system")), code: nonEmpty(nested.optionalString("code")),
                    display: nonEmpty(nested.optionalString("display")))
                // An empty coding has no FHIR form; keeping it would make every merge look like a change.
                if coding != Coding() { codes.append(coding) }
            }
            nested.finish()
            r.absorb(nested.problems)
        }
        return codes
    }

    private static func readConcept(_ r: inout TemplateObjectReader) -> CodeableConcept? {
        guard r.isObject else { return nil }
        let text = nonEmpty(r.optionalString("text"))
        let codes = r.optionalArray("codes").map { readCodes($0, member: "codes", in: &r) } ?? []
        return CodeableConcept(coding: codes, text: text)
    }

    static let valueTypeNames = ["SampledData", "Quantity", "String", "CodeableConcept"]

    private static func readValue(_ r: inout TemplateObjectReader) -> FHIRValueTemplate? {
        guard r.isObject else { return nil }
        guard let valueType = r.requiredString("valueType") else {
            ignoreValueMembers(&r)
            return nil
        }
        let valueName = r.requiredString("valueName")
        let kind: FHIRValueTemplate.Kind
        switch valueType.lowercased() {
        case "sampleddata":
            let period = r.optionalInt("defaultPeriod")
            if let period, period <= 0 { r.report("defaultPeriod", "DefaultPeriod must be a positive number of milliseconds.") }
            kind = .sampledData(defaultPeriod: period.map(Int64.init), unit: nonEmpty(r.optionalString("unit")))
        case "quantity":
            kind = .quantity(
                unit: nonEmpty(r.optionalString("unit")), system: nonEmpty(r.optionalString("system")),
                code: nonEmpty(r.optionalString("code")))
        case "string":
            kind = .string
        case "codeableconcept":
            guard let concept = readConcept(&r) else { return nil }
            kind = .codeableConcept(concept)
        default:
            r.report("valueType", "No match found for value type \(valueType); expected one of \(valueTypeNames.joined(separator: ", ")).")
            ignoreValueMembers(&r)
            return nil
        }
        guard let valueName else { return nil }
        return FHIRValueTemplate(valueName: valueName, kind: kind)
    }

    /// Without a known value type only members no value type has are worth reporting.
    private static func ignoreValueMembers(_ r: inout TemplateObjectReader) {
        for name in ["valueName", "defaultPeriod", "unit", "system", "code", "text", "codes"] { r.ignore(name) }
    }

    /// FHIR has no empty strings: an empty template text means "absent", so built Observations
    /// equal what a server sends back and merges do not see phantom changes.
    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    static func matches(_ name: String, _ accepted: [String]) -> Bool {
        accepted.contains { TemplateObjectReader.equalsIgnoringASCIICase($0, name) }
    }
}
