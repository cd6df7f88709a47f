import JSONQuery

/// A device mapping (`devicecontent.json`): a `CollectionContent` of device-content templates,
/// parsed, validated and compiled once. `normalize` applies it to device messages.
package struct DeviceTemplateCollection: Sendable {
    let templates: [DeviceContentTemplate]

    /// Parses and compiles a devicecontent.json; throws every problem found. The file is read as
    /// Json.NET reads it for MedTech: `//` and `/* */` comments and trailing commas are allowed
    /// (device messages stay strict JSON).
    ///
    /// Unlike upstream, which drops bad sub-templates and keeps the rest, any problem rejects
    /// the whole file: upstream production refuses such a mapping too, and a gateway should
    /// say so at load rather than silently skip a device's readings.
    package init(parsing text: String, source: String) throws(TemplateLoadError) {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: text, options: .template)
        } catch {
            throw TemplateLoadError(problems: [TemplateProblem(
                source: source, line: error.line,
                message: "Invalid JSON at line \(error.line), column \(error.column): \(error.reason).")])
        }
        var loader = DeviceTemplateLoader(source: source, lines: SubTemplateLines.scan(text))
        let templates = loader.load(root)
        guard loader.problems.isEmpty else { throw TemplateLoadError(problems: loader.problems) }
        self.templates = templates
    }

    /// The number of sub-templates.
    package var count: Int { templates.count }
}

/// Reads the collection root and each sub-template, collecting problems.
struct DeviceTemplateLoader {
    let source: String
    let lines: [SubTemplateLines.Entry]
    private(set) var problems: [TemplateProblem] = []

    init(source: String, lines: [SubTemplateLines.Entry]) {
        self.source = source
        self.lines = lines
    }

    static let rootName = "CollectionContentTemplate"

    mutating func load(_ root: JSONValue) -> [DeviceContentTemplate] {
        let rootLocation = TemplateLocation(source: source)
        guard case .object = root else {
            problems.append(rootLocation.problem(
                field: nil, "Expected a JSON object with templateType \(Self.rootName), found \(root.typeName)."))
            return []
        }
        // The root and each sub-template's wrapper are read leniently (upstream's container
        // ignores extra members); template bodies are strict.
        var reader = TemplateObjectReader(root, typeName: "TemplateContainer", location: rootLocation)
        let templateType = reader.member("templateType")?.stringValue ?? ""
        guard matchesTemplateName(templateType, Self.rootName) else {
            problems.append(rootLocation.problem(
                field: "templateType", "Expected TemplateType value \(Self.rootName), actual \(templateType)."))
            return []
        }
        guard case .array(let elements)? = reader.member("template") else {
            problems.append(rootLocation.problem(
                field: "template", "Expected an array for the template property value for template type \(Self.rootName)."))
            return []
        }
        var templates: [DeviceContentTemplate] = []
        templates.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            if let template = loadSubTemplate(element, index: index) { templates.append(template) }
        }
        return templates
    }

    private mutating func loadSubTemplate(_ element: JSONValue, index: Int) -> DeviceContentTemplate? {
        let line = index < lines.count ? lines[index].best : nil
        var location = TemplateLocation(source: source, templateIndex: index, line: line)
        var wrapper = TemplateObjectReader(element, typeName: "TemplateContainer", location: location)
        guard wrapper.isObject else {
            problems.append(contentsOf: wrapper.problems)
            return nil
        }
        guard let written = wrapper.requiredString("templateType") else {
            problems.append(contentsOf: wrapper.problems)
            return nil
        }
        location.templateType = written
        guard let kind = DeviceContentKind(templateType: written) else {
            problems.append(location.problem(field: "templateType", "No match found for template type \(written)."))
            return nil
        }
        guard let body = wrapper.member("template"), !body.isNull else {
            problems.append(location.problem(field: "template", "Required property 'Template' not found in JSON."))
            return nil
        }
        let reader = TemplateObjectReader(body, typeName: kind.className, location: location)
        guard reader.isObject else {
            problems.append(contentsOf: reader.problems)
            return nil
        }
        var bodyReader = BodyReader(reader: reader, kind: kind)
        let template = bodyReader.read(index: index, templateType: written)
        problems.append(contentsOf: bodyReader.reader.problems)
        return template
    }
}

/// Reads one sub-template body in upstream's member order, so problems come out in the order
/// upstream reports them (type name, type match, device id, patient, encounter, timestamp,
/// correlation id, values).
private struct BodyReader {
    var reader: TemplateObjectReader
    let kind: DeviceContentKind
    var defaultLanguage = ExpressionLanguage.jsonPath

    init(reader: TemplateObjectReader, kind: DeviceContentKind) {
        self.reader = reader
        self.kind = kind
    }

    mutating func read(index: Int, templateType: String) -> DeviceContentTemplate? {
        if kind == .calculated, let name = reader.optionalString("defaultExpressionLanguage") {
            if let language = ExpressionLanguage(name: name) {
                defaultLanguage = language
            } else {
                reader.report("defaultExpressionLanguage", "Unknown expression language '\(name)'; expected JsonPath or JmesPath.")
            }
        }
        let typeName = reader.requiredString("typeName")
        let typeMatch = expression("typeMatchExpression", required: true)

        var deviceId: DeviceContentTemplate.Field?
        var timestamp: DeviceContentTemplate.Field?
        var fallback: TemplateExpression?
        let patientId: DeviceContentTemplate.Field?
        let encounterId: DeviceContentTemplate.Field?
        switch kind {
        case .jsonPath, .calculated:
            deviceId = field("deviceIdExpression", required: true)
            patientId = field("patientIdExpression", required: false)
            encounterId = field("encounterIdExpression", required: false)
            timestamp = field("timestampExpression", required: true)
        case .iotJsonPath, .iotCentralJsonPath:
            // Fixed locations; the members are tolerated and ignored, as upstream.
            reader.ignore("deviceIdExpression")
            reader.ignore("timestampExpression")
            patientId = field("patientIdExpression", required: false)
            encounterId = field("encounterIdExpression", required: false)
            if kind == .iotJsonPath {
                deviceId = .init(member: "deviceIdExpression", expression: DeviceContentTemplate.iotHubDeviceId)
                timestamp = .init(member: "timestampExpression", expression: DeviceContentTemplate.iotHubCreationTime)
                fallback = DeviceContentTemplate.iotHubEnqueuedTime
            } else {
                deviceId = .init(member: "deviceIdExpression", expression: DeviceContentTemplate.iotCentralDeviceId)
                timestamp = .init(member: "timestampExpression", expression: DeviceContentTemplate.iotCentralEnqueuedTime)
            }
        }
        let correlationId = field("correlationIdExpression", required: false)
        let values = readValues()
        reader.finish()

        guard let typeName, let typeMatch, let deviceId, let timestamp, let values, reader.problems.isEmpty else {
            return nil
        }
        return DeviceContentTemplate(
            index: index, templateType: templateType, kind: kind, typeName: typeName, typeMatch: typeMatch,
            deviceId: deviceId, timestamp: timestamp, timestampFallback: fallback, patientId: patientId,
            encounterId: encounterId, correlationId: correlationId, values: values)
    }

    private mutating func field(_ member: String, required: Bool) -> DeviceContentTemplate.Field? {
        expression(member, required: required).map { .init(member: member, expression: $0) }
    }

    /// An expression member of the body: a string, or for CalculatedContent also
    /// `{"value": ..., "language": ...}`. Compiled here; a compile error is a problem.
    private mutating func expression(_ member: String, required: Bool) -> TemplateExpression? {
        let raw = required ? reader.required(member) : reader.optional(member)
        guard let raw else { return nil }
        return Self.compile(raw, member: member, kind: kind, defaultLanguage: defaultLanguage, reader: &reader)
    }

    private static func compile(
        _ raw: JSONValue, member: String, kind: DeviceContentKind, defaultLanguage: ExpressionLanguage,
        reader: inout TemplateObjectReader
    ) -> TemplateExpression? {
        var text: String
        var language = defaultLanguage
        switch raw {
        case .string(let s):
            text = s
        case .object where kind == .calculated:
            var nested = reader.nested(raw, member: member, typeName: "TemplateExpression")
            let value = nested.requiredString("value")
            if let name = nested.optionalString("language") {
                if let parsed = ExpressionLanguage(name: name) {
                    language = parsed
                } else {
                    nested.report("language", "Unknown expression language '\(name)'; expected JsonPath or JmesPath.")
                }
            }
            nested.finish()
            reader.absorb(nested.problems)
            guard let value, nested.problems.isEmpty else { return nil }
            text = value
        default:
            let expected = kind == .calculated ? "a string or a {\"value\", \"language\"} object" : "a string"
            reader.report(member, "Expected \(expected) for '\(member)', found \(raw.typeName).")
            return nil
        }
        do {
            return try TemplateExpression(text, language: language)
        } catch {
            reader.report(
                member, expressionColumn: error.column,
                "Invalid \(language.name) expression '\(text)': \(error.message)")
            return nil
        }
    }

    private mutating func readValues() -> [DeviceContentTemplate.Value]? {
        // Upstream dereferences CalculatedContent's values without a null check; require it.
        let elements = kind == .calculated ? reader.requiredArray("values") : reader.optionalArray("values")
        guard let elements else { return kind == .calculated ? nil : [] }
        var values: [DeviceContentTemplate.Value] = []
        var valid = true
        let valueTypeName = kind == .calculated ? "CalculatedFunctionValueExpression" : "JsonPathValueExpression"
        for (i, element) in elements.enumerated() {
            var nested = reader.nested(element, member: "values[\(i)]", typeName: valueTypeName)
            let name = nested.requiredString("valueName")
            var expression: TemplateExpression?
            if let raw = nested.required("valueExpression") {
                expression = Self.compile(
                    raw, member: "valueExpression", kind: kind, defaultLanguage: defaultLanguage, reader: &nested)
            }
            let required = nested.bool("required", default: false)
            nested.finish()
            reader.absorb(nested.problems)
            if let name, let expression, nested.problems.isEmpty {
                values.append(.init(name: name, expression: expression, required: required))
            } else {
                valid = false
            }
        }
        return valid ? values : nil
    }
}
