import ArgumentParser
import EdgeCore
import FoundationEssentials
import Gateway
import JSONQuery
import Mapping

/// `fhir-edge map`: a dry run of a device profile's templates on captured messages, no server needed.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Run MedTech device and FHIR mapping templates on device messages and print the results.",
        discussion: """
            With --profile, runs a device profile folder exactly as the daemon maps its messages (templates, \
            identity, Patient and Device links, receive time and notes on the Observations); otherwise the \
            templates given with --device-template and --fhir-template and the identity options.
            Prints one JSON document {"results": [...], "observations": [...], "errors": [...]}: one result per input
            message (its measurements, or the error that rejected it), the FHIR Observations built from them, and
            the errors of observation groups that could not be converted. Exits 0 when it ran, even with
            per-message errors; 2 when a template or the input is unusable.
            """
    )

    enum Grouping: String, ExpressibleByArgument, CaseIterable {
        case perMessage = "per-message"
        case batch
    }

    @Option(help: "A device profile folder (devicecontent.json, fhirmapping.json, profile.yaml), mapped as the daemon maps it.")
    var profile: String?

    @Option(help: "The device-content template (devicecontent.json).")
    var deviceTemplate: String?

    @Option(help: "The FHIR mapping template (fhirmapping.json); without it only measurements are printed.")
    var fhirTemplate: String?

    @Option(help: "Resolved Patient resource id for the Observations' subject and identifier.")
    var patientId: String?

    @Option(help: "Resolved Device resource id for the Observations' device and identifier.")
    var deviceId: String?

    enum Identity: String, ExpressibleByArgument, CaseIterable {
        case none
        case create
    }

    @Option(help: "Observation identity without --patient-id/--device-id: none, or create (MedTech Create-mode ids hashed offline from the messages' patient and device ids).")
    var identity: Identity = .none

    @Option(help: "Device identifier system used by create identity.")
    var deviceSystem: String?

    @Option(help: "Patient identifier system used by create identity (the Patient id is then hashed from system and value).")
    var patientSystem: String?

    @Option(help: "What create identity's Observations are about: patient, or device (room and equipment readings: subject Device/<id>, no Patient).")
    var subject: Subject = .patient

    enum Subject: String, ExpressibleByArgument, CaseIterable {
        case patient
        case device
    }

    enum SpecialValues: String, ExpressibleByArgument, CaseIterable {
        case none
        case ieee11073
    }

    @Option(help: "Quantity texts written as dataAbsentReason instead of rejected: none (MedTech), or ieee11073 (NaN, NRes, +INF, -INF, RFU; profile.yaml observation.specialValues).")
    var specialValues: SpecialValues = .none

    @Option(help: "How measurements form conversion batches: per-message or batch (all input messages together).")
    var grouping: Grouping = .batch

    @Option(help: "Time precision of Single-window Observation ids: millisecond (one Observation per reading) or second (upstream's ids; readings within a second merge), as profile.yaml identity.observationIdPrecision.")
    var observationIdPrecision: IdPrecision = .millisecond

    enum IdPrecision: String, ExpressibleByArgument, CaseIterable {
        case millisecond, second
        var precision: ObservationIdPrecision { self == .second ? .second : .millisecond }
    }

    @Option(help: "The receive time every message is given (ISO 8601, e.g. 2026-11-27T08:15:00Z); default: now.")
    var receivedAt: String?

    @Option(help: "How the messages arrived, as the daemon's sources name it (http, ble, modbus): Bluetooth messages' notes and body site reach the Observations.")
    var transport: String = Transport.http.rawValue

    @Argument(help: "One device message or a JSON array of messages (or NDJSON); '-' or omitted reads standard input.")
    var input: String?

    func validate() throws {
        if (patientId == nil) != (deviceId == nil) {
            throw ValidationError("--patient-id and --device-id go together")
        }
        if (profile == nil) == (deviceTemplate == nil) {
            throw ValidationError("give --profile, or --device-template (with --fhir-template)")
        }
        let templateOptions = fhirTemplate != nil || patientId != nil || identity != .none || deviceSystem != nil
            || patientSystem != nil || subject != .patient || specialValues != .none || observationIdPrecision != .millisecond
        if profile != nil, templateOptions {
            throw ValidationError("--profile brings its own templates and identity; drop the template and identity options")
        }
        if let receivedAt, Timestamp(parsingISO8601Lenient: receivedAt) == nil {
            throw ValidationError("--received-at: expected an ISO 8601 time, got \(receivedAt)")
        }
    }

    func run() throws {
        try exitingOnUsageFailure {
            let (deviceTemplates, pipeline) = try load()
            let messages = try readMessages()
            let now = receivedAt.flatMap { Timestamp(parsingISO8601Lenient: $0) }
                ?? Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
            let transport = Transport(rawValue: transport)
            // The file's order is the receive order: of two messages with the same device time
            // the later one wins, as in the daemon.
            let inputs = messages.enumerated().map { index, message in
                MappingPipeline.Message(json: message, receivedAt: now, sequence: Int64(index), transport: transport)
            }
            var output: JSONObject = [:]
            guard let pipeline else {
                // No FHIR template: the device templates alone, measurements only.
                output["results"] = .array(MappingPipeline.normalize(inputs, with: deviceTemplates).map(Self.result))
                printJSON(.object(output))
                return
            }
            // The Observations exactly as the daemon queues them, parsed back for printing.
            func observations(_ mapped: MappingPipeline.Output) -> [JSONValue] {
                mapped.observations.map(\.json)
            }
            let batch = pipeline.map(inputs, issued: now)
            output["results"] = .array(batch.outcomes.map(Self.result))
            switch grouping {
            case .batch:
                output["observations"] = .array(observations(batch))
                output["errors"] = .array(batch.conversionErrors.map(Self.printable))
            case .perMessage:
                let single = inputs.map { pipeline.map([$0], issued: now) }
                output["observations"] = .array(single.map { .array(observations($0)) })
                output["errors"] = .array(single.flatMap(\.conversionErrors).map(Self.printable))
            }
            printJSON(.object(output))
        }
    }

    /// The device templates and, with a FHIR template, the whole pipeline `--profile` or the
    /// template options describe.
    private func load() throws -> (DeviceTemplateCollection, MappingPipeline?) {
        if let profile {
            do {
                let pipeline = try DeviceProfile.load(folder: profile).pipeline
                return (pipeline.deviceTemplates, pipeline)
            } catch {
                throw UsageFailure("unusable profile:\n\(error)")
            }
        }
        let deviceTemplates: DeviceTemplateCollection
        do {
            deviceTemplates = try DeviceTemplateCollection(parsing: try readText(deviceTemplate ?? ""), source: deviceTemplate ?? "")
        } catch let error as TemplateLoadError {
            throw UsageFailure("unusable device template:\n\(error)")
        }
        guard let fhirTemplate else { return (deviceTemplates, nil) }
        do {
            let templates = try FHIRTemplateCollection(parsing: try readText(fhirTemplate), source: fhirTemplate)
            var converter = ObservationConverter(templates: templates, identity: resourceIdentity, idPrecision: observationIdPrecision.precision)
            if specialValues == .ieee11073 { converter.dataAbsentValues = .ieee11073 }
            return (deviceTemplates, MappingPipeline(deviceTemplates: deviceTemplates, converter: converter))
        } catch let error as TemplateLoadError {
            throw UsageFailure("unusable FHIR template:\n\(error)")
        }
    }

    private static func result(_ outcome: Result<[Mapping.Measurement], MappingPipeline.Failure>) -> JSONValue {
        switch outcome {
        case .success(let measurements): ["outcome": "measurements", "measurements": .array(measurements.map(printable))]
        case .failure(let failure): ["outcome": "error", "error": ["type": .string(failure.type), "message": .string(failure.message)]]
        }
    }

    private static func printable(_ error: ConversionError) -> JSONValue {
        ["type": .string(error.type), "message": .string(error.message)]
    }

    /// Measurements print without `IngestionTimeUtc`: it is the run's own clock, not part of the mapping.
    private static func printable(_ measurement: Mapping.Measurement) -> JSONValue {
        var measurement = measurement
        measurement.ingestionTime = nil
        measurement.receiveSequence = nil
        return measurement.normalizedJSON
    }

    private var resourceIdentity: ResourceIdentity {
        if let patientId, let deviceId {
            let resolved = ResourceIdentity.ResolvedResources(patientResourceId: patientId, deviceResourceId: deviceId)
            return .resolving { _ in resolved }
        }
        switch identity {
        case .none: return .none
        case .create: return .create(deviceSystem: deviceSystem, patientSystem: patientSystem, subject: subject == .device ? .device : .patient)
        }
    }

    /// A JSON array is a list of messages (device messages are objects); NDJSON is one per line.
    private func readMessages() throws -> [JSONValue] {
        let data = try readInput(input)
        let source = input ?? "stdin"
        let document: JSONValue
        do {
            document = try data.withUnsafeBytes { try JSONValue(parsing: $0.bindMemory(to: UInt8.self)) }
        } catch let single as JSONParseError {
            guard let lines = try? data.withUnsafeBytes({ try JSONValue.parseLines($0.bindMemory(to: UInt8.self)) }), lines.count > 1 else {
                throw UsageFailure("\(source): \(single)")
            }
            return lines
        }
        if case .array(let messages) = document { return messages }
        return [document]
    }
}
