/// The four device-content template kinds a `CollectionContent` may hold.
enum DeviceContentKind: Sendable, CaseIterable {
    case jsonPath
    case iotJsonPath
    case iotCentralJsonPath
    case calculated

    /// Upstream's class name, used in messages (`Could not find member ... JsonPathContentTemplate`).
    var className: String {
        switch self {
        case .jsonPath: "JsonPathContentTemplate"
        case .iotJsonPath: "IotJsonPathContentTemplate"
        case .iotCentralJsonPath: "IotCentralJsonPathContentTemplate"
        case .calculated: "CalculatedFunctionContentTemplate"
        }
    }

    /// The factory name upstream matches `templateType` against (case-insensitively). The two
    /// names with a `Template` suffix may also be written without it; the other two have no
    /// suffixed spelling (`vectors/template-type-names.json`).
    private var factoryName: String {
        switch self {
        case .jsonPath: "JsonPathContentTemplate"
        case .iotJsonPath: "IotJsonPathContentTemplate"
        case .iotCentralJsonPath: "IotCentralJsonPathContent"
        case .calculated: "CalculatedContent"
        }
    }

    init?(templateType: String) {
        guard let kind = Self.allCases.first(where: { matchesTemplateName(templateType, $0.factoryName) }) else {
            return nil
        }
        self = kind
    }

    /// CalculatedContent evaluates against the message plus `matchedToken`; the others against
    /// the matched node itself.
    var evaluatesAgainstMessage: Bool { self == .calculated }
}

/// Upstream's `TemplateContainer.MatchTemplateName`: case-insensitive, and a canonical name
/// ending in `Template` also matches without that suffix.
func matchesTemplateName(_ written: String, _ canonical: String) -> Bool {
    if TemplateObjectReader.equalsIgnoringASCIICase(written, canonical) { return true }
    guard canonical.hasSuffix("Template") else { return false }
    return TemplateObjectReader.equalsIgnoringASCIICase(written, canonical.dropLast("Template".count))
}

/// One compiled sub-template of a device mapping. A class, so the per-message loop over the
/// collection passes one reference instead of copying (and retaining) every field.
final class DeviceContentTemplate: Sendable {
    struct Value: Sendable {
        var name: String
        var expression: TemplateExpression
        var required: Bool
    }

    /// A single-value field: its member name (for error fields) and upstream's name for it in
    /// messages (`[DeviceIdExpression]`).
    struct Field: Sendable {
        var member: String
        var expression: TemplateExpression
        var displayName: String { TemplateObjectReader.pascalCase(member) }
    }

    let index: Int
    /// `templateType` as written in the file, for error reports.
    let templateType: String
    let kind: DeviceContentKind
    let typeName: String
    let typeMatch: TemplateExpression
    let deviceId: Field
    let timestamp: Field
    /// IoT Hub's enqueued time, read only when the creation time is absent.
    let timestampFallback: TemplateExpression?
    let patientId: Field?
    let encounterId: Field?
    let correlationId: Field?
    let values: [Value]

    init(
        index: Int, templateType: String, kind: DeviceContentKind, typeName: String, typeMatch: TemplateExpression,
        deviceId: Field, timestamp: Field, timestampFallback: TemplateExpression?, patientId: Field?,
        encounterId: Field?, correlationId: Field?, values: [Value]
    ) {
        self.index = index
        self.templateType = templateType
        self.kind = kind
        self.typeName = typeName
        self.typeMatch = typeMatch
        self.deviceId = deviceId
        self.timestamp = timestamp
        self.timestampFallback = timestampFallback
        self.patientId = patientId
        self.encounterId = encounterId
        self.correlationId = correlationId
        self.values = values
    }
}

extension DeviceContentTemplate {
    /// IoT Hub routes device telemetry with these envelope members (`IotJsonPathContent`).
    static let iotHubDeviceId = TemplateExpression(
        fixedPath: ["SystemProperties", "iothub-connection-device-id"],
        text: "$.SystemProperties.iothub-connection-device-id")
    static let iotHubCreationTime = TemplateExpression(
        fixedPath: ["Properties", "iothub-creation-time-utc"], text: "$.Properties.iothub-creation-time-utc")
    static let iotHubEnqueuedTime = TemplateExpression(
        fixedPath: ["SystemProperties", "iothub-enqueuedtime"], text: "$.SystemProperties.iothub-enqueuedtime")
    /// IoT Central's data export puts them at the top of each export object.
    static let iotCentralDeviceId = TemplateExpression(fixedPath: ["deviceId"], text: "$.deviceId")
    static let iotCentralEnqueuedTime = TemplateExpression(fixedPath: ["enqueuedTime"], text: "$.enqueuedTime")
}
