import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping
import Store

/// The outbox backlog: demo-vitals messages from a ward of monitors, mapped by the profile's own
/// templates (Create-mode identity, as the gateway maps them), committed to the outbox as the
/// mapping stage commits them: each batch's Patients and Devices first, then its Observations.
struct Backlog {
    let deviceTemplates: DeviceTemplateCollection
    let converter: ObservationConverter
    /// Monitors (one patient each) the readings rotate over.
    let monitors: Int
    let seed: UInt64

    init(profileDirectory: String, monitors: Int = 20, seed: UInt64) throws {
        func text(_ name: String) throws -> String {
            let path = profileDirectory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw BenchmarkFailure("cannot read \(path)") }
            return String(decoding: data, as: UTF8.self)
        }
        deviceTemplates = try DeviceTemplateCollection(parsing: text("devicecontent.json"), source: "devicecontent.json")
        let fhir = try FHIRTemplateCollection(parsing: text("fhirmapping.json"), source: "fhirmapping.json")
        converter = ObservationConverter(templates: fhir, identity: .create(deviceSystem: nil))
        self.monitors = monitors
        self.seed = seed
    }

    /// One reading of every vital sign, a second apart per monitor, so every Observation is distinct.
    func message(_ index: Int, random: inout SplitMix64) -> JSONValue {
        let monitor = index % monitors + 1
        let time = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000 + Int64(index / monitors) * 1000)
        let number = (monitor < 10 ? "0" : "") + String(monitor)
        return [
            "deviceId": .string("bench-monitor-\(number)"), "patientId": .string("bench-patient-\(number)"),
            "measuredAt": .string(time.iso8601),
            "heartRate": .int(Int64(55 + random.next() % 50)), "spo2": .int(Int64(92 + random.next() % 8)),
            "systolic": .int(Int64(105 + random.next() % 40)), "diastolic": .int(Int64(65 + random.next() % 25)),
            "temperature": .double(Double(362 + Int(random.next() % 16)) / 10),
        ]
    }

    /// Maps messages until exactly `observations` Observations exist and commits them, with their
    /// Patients and Devices, in mapping batches of 100 messages. Returns the resources committed.
    func fill(_ store: Store, observations: Int) async throws -> (observations: Int, resources: Int) {
        var random = SplitMix64(seed: seed)
        var committedObservations = 0
        var resources = 0
        var index = 0
        let issued = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        var text: [UInt8] = []
        while committedObservations < observations {
            var measurements: [Mapping.Measurement] = []
            for _ in 0..<100 {
                measurements += try deviceTemplates.normalize(message(index, random: &random), ingestionTime: issued)
                index += 1
            }
            let conversion = converter.convert(measurements, issued: issued)
            guard conversion.errors.isEmpty else { throw BenchmarkFailure("the demo-vitals templates failed: \(conversion.errors[0])") }
            var batch: [OutboxResource] = []
            var linked: Set<String> = []
            for measurement in measurements {
                guard let patientId = measurement.patientId, linked.insert(measurement.deviceId).inserted else { continue }
                let patient = ResourceIdentity.createModePatient(patientId: patientId)
                guard let patientResourceId = patient.id else { continue }
                let device = ResourceIdentity.createModeDevice(deviceId: measurement.deviceId, system: nil, patientResourceId: patientResourceId)
                batch.append(OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: patientResourceId,
                                            identityKey: "Patient/" + patientResourceId, json: patient.json))
                if let deviceResourceId = device.id {
                    batch.append(OutboxResource(inboxID: nil, resourceType: "Device", resourceID: deviceResourceId,
                                                identityKey: "Device/" + deviceResourceId, json: device.json))
                }
            }
            for observation in conversion.observations.prefix(observations - committedObservations) {
                guard let id = observation.id, let identifier = observation.identifier.first else { continue }
                text.removeAll(keepingCapacity: true)
                observation.writeJSON(into: &text)
                batch.append(OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: id,
                                            identityKey: (identifier.system ?? "") + "|" + (identifier.value ?? ""), jsonText: text))
                committedObservations += 1
            }
            _ = try await store.completeMapping(MappingResult(inboxIDs: [], resources: batch))
            resources += batch.count
        }
        return (committedObservations, resources)
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
