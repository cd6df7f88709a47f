import FHIRConventions
package import EdgeCore
import FHIRModel
package import JSONQuery

/// A device profile's whole mapping, profile → normalize → convert, as one pure function: the
/// daemon's mapping stage, `fhir-edge map` and the Modbus and Bluetooth commands all run this,
/// so a dry run shows exactly what the gateway would queue.
///
/// Messages of one run convert together, in the order given (the receive order: of two readings
/// with the same device time the later one wins).
package struct MappingPipeline: Sendable {
    package var deviceTemplates: DeviceTemplateCollection
    package var converter: ObservationConverter
    /// Which Patient and Device resources go with the Observations.
    package var resources: LinkedResources
    /// System of the Device identifier.
    package var deviceSystem: String?
    /// System of the Patient identifier the gateway creates.
    package var patientSystem: String?
    /// What the Observations are about: a patient, or the Device itself.
    package var subject: ObservationSubject
    /// What the Devices created are; nil: identity only.
    package var deviceTemplate: DeviceTemplate?

    /// The resources beside the Observations.
    package enum LinkedResources: Sendable {
        /// Observations only; their references come from the converter's identity.
        case none
        /// The gateway names (and the uploader creates) a Patient and a Device per device and patient id.
        case create
        /// The server holds the Device and its Patient; Observations name them by placeholder until upload.
        case lookup
    }

    package init(
        deviceTemplates: DeviceTemplateCollection, converter: ObservationConverter, resources: LinkedResources = .none,
        deviceSystem: String? = nil, patientSystem: String? = nil, subject: ObservationSubject = .patient,
        deviceTemplate: DeviceTemplate? = nil
    ) {
        self.deviceTemplates = deviceTemplates
        self.converter = converter
        self.resources = resources
        self.deviceSystem = deviceSystem
        self.patientSystem = patientSystem
        self.subject = subject
        self.deviceTemplate = deviceTemplate
    }

    /// One device message as received.
    package struct Message: Sendable {
        enum Content: Sendable {
            case bytes([UInt8])
            case parsed(JSONValue)
        }

        var content: Content
        package var receivedAt: Timestamp
        /// The receive order, given to the templates as the measurements' receive sequence.
        package var sequence: Int64
        package var transport: Transport

        /// The message's bytes as stored; unparsable JSON is a failure of that message.
        package init(payload: [UInt8], receivedAt: Timestamp, sequence: Int64, transport: Transport) {
            self.init(content: .bytes(payload), receivedAt: receivedAt, sequence: sequence, transport: transport)
        }

        /// A message already parsed (a file given to `fhir-edge map`, a message a source just built).
        package init(json: JSONValue, receivedAt: Timestamp, sequence: Int64, transport: Transport) {
            self.init(content: .parsed(json), receivedAt: receivedAt, sequence: sequence, transport: transport)
        }

        init(content: Content, receivedAt: Timestamp, sequence: Int64, transport: Transport) {
            self.content = content
            self.receivedAt = receivedAt
            self.sequence = sequence
            self.transport = transport
        }
    }

    /// Why a message (or part of it) was not mapped.
    package struct Failure: Error, Sendable, Equatable {
        /// `device-mapping` (parsing, device templates) or `fhir-mapping` (FHIR templates).
        package var stage: String
        package var type: String
        /// What went wrong, as `fhir-edge map` prints it.
        package var message: String
        /// `message` with where it happened, as dead letters keep it.
        package var description: String
        /// The device the failure is about, when the templates got that far.
        package var deviceId: String?
    }

    /// A resource to queue: its JSON text, as it is stored and uploaded.
    package struct Resource: Sendable, Equatable {
        package var resourceType: String
        package var resourceID: String
        /// The identifier the upstream recognises it by (`system|value`, or `Type/id`).
        package var identityKey: String
        package var body: String
        /// The index of the message an Observation came from; nil for Patients and Devices.
        package var origin: Int?

        /// `body` parsed back, for printing: the pipeline wrote it, so it parses.
        package var json: JSONValue { (try? JSONValue(parsing: Array(body.utf8))) ?? .null }
    }

    package struct Output: Sendable {
        /// Per message, in input order: its measurements, or why its templates rejected it.
        package var outcomes: [Result<[Measurement], Failure>] = []
        /// Per message, in input order: the message as parsed (nil where it is not JSON), so a
        /// caller that reads more of it (a battery level for the status page) need not parse it again.
        package var messages: [JSONValue?] = []
        /// Failures of the FHIR stage, with the messages whose measurements they involve, in the order they occurred.
        package var conversionFailures: [(message: Int, failure: Failure)] = []
        /// The conversion errors as the converter reported them.
        package var conversionErrors: [ConversionError] = []
        /// Patients and Devices first (only those an Observation names), then the Observations.
        package var resources: [Resource] = []
        /// How many Observations the converter built.
        package var observationCount = 0

        /// The Observations of `resources`, in order.
        package var observations: [Resource] { resources.filter { $0.resourceType == "Observation" } }
    }

    /// Maps `messages` together; `issued` is the converter's issue time (each Observation then
    /// takes its message's receive time).
    package func map(_ messages: [Message], issued: Timestamp) -> Output {
        var output = Output()
        var measurements: [Measurement] = []
        // The message of each measurement, by position in `measurements`; hashed into a lookup
        // only when a conversion error has to be traced back to its messages.
        var measurementOrigins: [Int] = []
        var patients: [String: Patient] = [:]
        var devices: [String: Device] = [:]
        // "Patient/<id>|Device/<id>" -> the measurements' times and messages, to link each
        // Observation to a message it came from (retention keeps that message until the
        // Observation is uploaded).
        var sources: [String: [Source]] = [:]
        var referenceKeys: [String: String] = [:]
        // What each message's Observations take from it: receive time, notes (`MessageReceipt`).
        var receipts: [Int: MessageReceipt.Receipt] = [:]
        for (index, message) in messages.enumerated() {
            let (json, outcome) = Self.normalize(message, with: deviceTemplates)
            output.outcomes.append(outcome)
            output.messages.append(json)
            guard let json, case .success(let produced) = outcome else { continue }
            receipts[index] = MessageReceipt.receipt(receivedAt: message.receivedAt, transport: message.transport, message: json)
            for measurement in produced {
                measurementOrigins.append(index)
                let source = Source(time: measurement.occurrenceTime.millisecondsSinceEpoch, sequence: message.sequence, message: index)
                switch resources {
                case .none:
                    break
                case .lookup:
                    let key = referenceKeys[measurement.deviceId] ?? {
                        let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: deviceSystem, deviceId: measurement.deviceId)
                        return "\(subject == .device ? "Device" : "Patient")/\(placeholder)|Device/\(placeholder)"
                    }()
                    referenceKeys[measurement.deviceId] = key
                    sources[key, default: []].append(source)
                case .create where subject == .device:
                    // A room or equipment reading: the Device, without patient, is the subject.
                    if devices[measurement.deviceId] == nil {
                        var device = ResourceIdentity.createModeDevice(
                            deviceId: measurement.deviceId, system: deviceSystem, patientResourceId: nil)
                        deviceTemplate?.apply(to: &device, reported: json["device"])
                        devices[measurement.deviceId] = device
                        referenceKeys[measurement.deviceId] = "Device/\(device.id ?? "")|Device/\(device.id ?? "")"
                    }
                    if let key = referenceKeys[measurement.deviceId] { sources[key, default: []].append(source) }
                case .create:
                    guard let patientId = measurement.patientId, !patientId.isEmpty else { break }
                    // Hash ids once per device and patient in the run, not per measurement.
                    let pair = measurement.deviceId + "\u{0}" + patientId
                    if devices[pair] == nil {
                        let patient = ResourceIdentity.createModePatient(patientId: patientId, system: patientSystem)
                        if let patientResourceId = patient.id {
                            patients[patientResourceId] = patient
                            var device = ResourceIdentity.createModeDevice(
                                deviceId: measurement.deviceId, system: deviceSystem, patientResourceId: patientResourceId)
                            deviceTemplate?.apply(to: &device, reported: json["device"])
                            devices[pair] = device
                            referenceKeys[pair] = "Patient/\(patientResourceId)|Device/\(device.id ?? "")"
                        }
                    } else if let deviceTemplate, let reported = json["device"], var device = devices[pair] {
                        // A later message's description of the device (read again on each link) wins.
                        deviceTemplate.apply(to: &device, reported: reported)
                        devices[pair] = device
                    }
                    if let key = referenceKeys[pair] { sources[key, default: []].append(source) }
                }
            }
            measurements += produced
        }

        for key in sources.keys { sources[key]?.sort { $0.time < $1.time } }
        let conversion = converter.convert(measurements, issued: issued)
        output.conversionErrors = conversion.errors
        output.observationCount = conversion.converted.count
        var origins: [Measurement: [Int]] = [:]
        if !conversion.errors.isEmpty {
            for (measurement, index) in zip(measurements, measurementOrigins) { origins[measurement, default: []].append(index) }
        }
        for error in conversion.errors {
            let failure = Failure(
                stage: "fhir-mapping", type: error.type, message: error.message, description: error.description,
                deviceId: error.groupKey.deviceId)
            for index in error.measurements.flatMap({ origins[$0] ?? [] }) {
                output.conversionFailures.append((index, failure))
            }
        }
        // Patient and Device first, so that an upstream in Create mode can resolve the references;
        // only those an Observation of the run names: a reading that failed queues nothing.
        var referenced = Set<String>()
        for observation in conversion.converted {
            if let subject = observation.subjectReference { referenced.insert(subject) }
            if let device = observation.deviceReference { referenced.insert(device) }
        }
        for key in patients.keys.sorted() where referenced.contains("Patient/" + key) {
            guard let patient = patients[key], let id = patient.id else { continue }
            output.resources.append(Resource(
                resourceType: "Patient", resourceID: id, identityKey: "Patient/" + id, body: JSONWriter().string(patient.json)))
        }
        for key in devices.keys.sorted() {
            guard let device = devices[key], let id = device.id, referenced.contains("Device/" + id) else { continue }
            output.resources.append(Resource(
                resourceType: "Device", resourceID: id, identityKey: "Device/" + id, body: JSONWriter().string(device.json)))
        }
        var text: [UInt8] = []
        for converted in conversion.converted {
            // Without an identity (a dry run of bare templates) an Observation has no id; it is
            // printed all the same, and the mapping stage queues only those with one.
            let id = converted.id ?? ""
            let identityKey = converted.identityKey ?? "Observation/" + id
            // Without linked resources no message is traced: the Observation keeps the converter's issue time.
            let origin = Self.origin(of: converted, among: sources)
            // Straight to bytes, the same text the tree would write; the buffer is reused.
            text.removeAll(keepingCapacity: true)
            if let receipt = origin.flatMap({ receipts[$0] }) {
                if receipt.onlyIssued {
                    converted.writeJSON(into: &text, issued: receipt.issued)
                } else {
                    var observation = converted.observation
                    MessageReceipt.apply(receipt, to: &observation)
                    observation.writeJSON(into: &text)
                }
            } else {
                converted.writeJSON(into: &text)
            }
            output.resources.append(Resource(
                resourceType: "Observation", resourceID: id, identityKey: identityKey, body: String(decoding: text, as: UTF8.self),
                origin: origin))
        }
        return output
    }

    /// The first half alone: each message's measurements, or why its templates rejected it.
    package static func normalize(_ messages: [Message], with deviceTemplates: DeviceTemplateCollection) -> [Result<[Measurement], Failure>] {
        messages.map { normalize($0, with: deviceTemplates).outcome }
    }

    private static func normalize(
        _ message: Message, with deviceTemplates: DeviceTemplateCollection
    ) -> (json: JSONValue?, outcome: Result<[Measurement], Failure>) {
        let json: JSONValue
        switch message.content {
        case .parsed(let parsed): json = parsed
        case .bytes(let bytes):
            do {
                json = try JSONValue(parsing: bytes)
            } catch {
                return (nil, .failure(Failure(stage: "device-mapping", type: "InvalidJSON", message: error.description, description: error.description)))
            }
        }
        do throws(NormalizationError) {
            let measurements = try deviceTemplates.normalize(json, ingestionTime: message.receivedAt, receiveSequence: message.sequence)
            return (json, .success(measurements))
        } catch {
            return (json, .failure(Failure(stage: "device-mapping", type: error.type, message: error.message, description: error.description)))
        }
    }

    struct Source {
        var time: Int64
        var sequence: Int64
        var message: Int
    }

    /// The newest message whose measurements fall in the Observation's period for its patient
    /// and device; failing a time match, the last one of that patient and device.
    /// `sources` lists are sorted by time.
    static func origin(of observation: ConvertedObservation, among sources: [String: [Source]]) -> Int? {
        let key = (observation.subjectReference ?? "") + "|" + (observation.deviceReference ?? "")
        guard let candidates = sources[key], let last = candidates.last else { return nil }
        guard let (start, end) = observation.period else { return last.message }
        // First candidate at or after the start, then the newest message up to the end.
        var low = 0
        var high = candidates.count
        while low < high {
            let middle = (low + high) / 2
            if candidates[middle].time < start.millisecondsSinceEpoch { low = middle + 1 } else { high = middle }
        }
        var newest: Source?
        var index = low
        while index < candidates.count, candidates[index].time <= end.millisecondsSinceEpoch {
            if newest == nil || candidates[index].sequence > newest!.sequence { newest = candidates[index] }
            index += 1
        }
        return (newest ?? last).message
    }
}
