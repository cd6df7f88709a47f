import ArgumentParser
import EdgeCore
import Foundation
import JSONQuery
import Mapping

/// `fhir-edge map`: a dry run of a device profile's templates on captured messages, no server needed.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Run MedTech device and FHIR mapping templates on device messages and print the results.",
        discussion: """
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

    @Option(help: "The device-content template (devicecontent.json).")
    var deviceTemplate: String

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

    @Option(help: "How measurements form conversion batches: per-message or batch (all input messages together).")
    var grouping: Grouping = .batch

    @Option(help: "Time precision of Single-window Observation ids: millisecond (one Observation per reading) or second (upstream's ids; readings within a second merge), as profile.yaml identity.observationIdPrecision.")
    var observationIdPrecision: IdPrecision = .millisecond

    enum IdPrecision: String, ExpressibleByArgument, CaseIterable {
        case millisecond, second
        var precision: ObservationIdPrecision { self == .second ? .second : .millisecond }
    }

    @Argument(help: "One device message or a JSON array of messages (or NDJSON); '-' or omitted reads standard input.")
    var input: String?

    func validate() throws {
        if (patientId == nil) != (deviceId == nil) {
            throw ValidationError("--patient-id and --device-id go together")
        }
    }

    func run() throws {
        try exitingOnUsageFailure {
            let device: DeviceTemplateCollection
            do {
                device = try DeviceTemplateCollection(parsing: try readText(deviceTemplate), source: deviceTemplate)
            } catch let error as TemplateLoadError {
                throw UsageFailure("unusable device template:\n\(error)")
            }
            var converter: ObservationConverter?
            if let fhirTemplate {
                do {
                    let templates = try FHIRTemplateCollection(parsing: try readText(fhirTemplate), source: fhirTemplate)
                    converter = ObservationConverter(templates: templates, identity: resourceIdentity, idPrecision: observationIdPrecision.precision)
                } catch let error as TemplateLoadError {
                    throw UsageFailure("unusable FHIR template:\n\(error)")
                }
            }
            let messages = try readMessages()
            let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))

            var results: [JSONValue] = []
            var measurementsPerMessage: [[Mapping.Measurement]] = []
            // The file's order is the receive order: of two messages with the same device time
            // the later one wins, as in the daemon.
            for (index, message) in messages.enumerated() {
                do {
                    let measurements = try device.normalize(message, ingestionTime: now, receiveSequence: Int64(index))
                    measurementsPerMessage.append(measurements)
                    results.append(["outcome": "measurements", "measurements": .array(measurements.map(Self.printable))])
                } catch let error as NormalizationError {
                    measurementsPerMessage.append([])
                    results.append(["outcome": "error", "error": ["type": .string(error.type), "message": .string(error.message)]])
                }
            }

            var output: JSONObject = ["results": .array(results)]
            if let converter {
                var conversionErrors: [JSONValue] = []
                func convert(_ batch: [Mapping.Measurement]) -> [JSONValue] {
                    let result = converter.convert(batch, issued: now)
                    conversionErrors += result.errors.map { ["type": .string($0.type), "message": .string($0.message)] }
                    return result.observations.map(\.json)
                }
                switch grouping {
                case .batch:
                    output["observations"] = .array(convert(measurementsPerMessage.flatMap { $0 }))
                case .perMessage:
                    output["observations"] = .array(measurementsPerMessage.map { .array(convert($0)) })
                }
                output["errors"] = .array(conversionErrors)
            }
            printJSON(.object(output))
        }
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
