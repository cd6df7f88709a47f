import EdgeCore
import FHIRModel
import JSONQuery
import Logging
import Mapping
import ServiceLifecycle
import Store
import Synchronization

/// Moves the inbox to the outbox: claims a batch, runs each message's profile (normalize every
/// message, then convert the batch's measurements per profile), and commits resources, dead
/// letters and journal entries in one store transaction per batch.
///
/// It wakes when ingest commits (`wake()`) and otherwise polls, for messages that arrive another
/// way (a replay from the CLI, work handed back after a restart). On graceful shutdown it
/// finishes the batch in hand and stops.
final class MappingStage: Service, Sendable {
    private let store: Store
    private let catalog: DeviceProfileCatalog
    private let monitor: GatewayMonitor
    private let batchSize: Int
    private let pollInterval: Duration
    private let now: @Sendable () -> Timestamp
    private let logger: Logger
    private let signal: AsyncStream<Void>
    private let signalContinuation: AsyncStream<Void>.Continuation
    /// Called after a commit that added outbox rows: the uploader's wake-up.
    private let onCommitted: @Sendable () -> Void
    /// Set at graceful shutdown: the batch in hand completes, no new one is claimed.
    private let stopping = Mutex(false)
    /// Messages of a batch whose commit failed, to hand back to the inbox before the next claim.
    private let unreleased = Mutex<[InboxID]>([])
    /// Advanced at every pass of the loop and every batch: the watchdog's sign of life.
    let heartbeat: Heartbeat

    init(
        store: Store, catalog: DeviceProfileCatalog, monitor: GatewayMonitor, batchSize: Int,
        pollInterval: Duration = .seconds(1), now: @escaping @Sendable () -> Timestamp,
        logger: Logger = Logger(label: "fhir-edge", factory: { _ in SwiftLogNoOpLogHandler() }),
        heartbeat: Heartbeat = Heartbeat(), onCommitted: @escaping @Sendable () -> Void = {}
    ) {
        self.heartbeat = heartbeat
        self.onCommitted = onCommitted
        self.store = store
        self.catalog = catalog
        self.monitor = monitor
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.now = now
        self.logger = logger
        (signal, signalContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// New messages are in the inbox.
    func wake() {
        signalContinuation.yield()
    }

    func run() async throws {
        let continuation = signalContinuation
        let interval = pollInterval
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The poll: a wake-up every interval until the stage stops.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        continuation.yield()
                    }
                }
                continuation.yield()
                for await _ in signal {
                    await drain()
                    heartbeat.beat()
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
            continuation.finish()
        }
    }

    /// Maps batches until the inbox has nothing pending.
    func drain() async {
        while !stopping.withLock({ $0 }) {
            do {
                let mapped = try await mapNextBatch()
                heartbeat.beat()
                if mapped < batchSize { return }
            } catch {
                logger.error("Mapping batch failed; its messages are handed back and mapped again at the next poll",
                             metadata: ["edge.store.error": "\(error.code)"])
                await monitor.recordError("mapping: \(error.code)", at: now())
                return
            }
        }
    }

    /// Claims, maps and commits one batch; returns how many messages it held.
    @discardableResult
    func mapNextBatch() async throws(StoreError) -> Int {
        let clock = ContinuousClock()
        let claimStart = clock.now
        let stranded = unreleased.withLock { $0 }
        if !stranded.isEmpty {
            _ = try await store.releaseClaims(stranded)
            unreleased.withLock { $0.removeAll { stranded.contains($0) } }
        }
        let items = try await store.claimInbox(limit: batchSize)
        guard !items.isEmpty else { return 0 }
        let mapStart = clock.now
        let time = now()
        let (result, summary) = Self.map(items, catalog: catalog, issued: time)
        let commitStart = clock.now
        do {
            try await store.completeMapping(result)
        } catch {
            // A full disk or another store failure: the claim must not strand the messages until
            // a restart. Handing them back may fail too; the next batch's claim retries it.
            unreleased.withLock { $0 += items.map(\.id) }
            throw error
        }
        if !result.resources.isEmpty { onCommitted() }
        let end = clock.now
        await monitor.recordMapping(summary, at: time)
        logger.debug("Mapped a batch", metadata: [
            "edge.mapping.messages": "\(items.count)", "edge.mapping.resources": "\(result.resources.count)",
            "edge.mapping.failures": "\(result.failures.count)",
            "edge.mapping.claim": "\(mapStart - claimStart)", "edge.mapping.map": "\(commitStart - mapStart)",
            "edge.mapping.commit": "\(end - commitStart)",
        ])
        return items.count
    }

    /// A battery level (percent) a message reports beside its readings, for the status page:
    /// `battery`, `batteryLevel` or `battery_level` at the top, or in BTHome's `values`.
    static func batteryLevel(_ message: JSONValue) -> Double? {
        for container in [message, message["values"] ?? .null] {
            for key in ["battery", "batteryLevel", "battery_level"] {
                if let level = container[key]?.doubleValue, level >= 0, level <= 100 { return level }
            }
        }
        return nil
    }

    /// The pure part: claimed messages in, the store transaction's content out.
    static func map(_ items: [InboxItem], catalog: DeviceProfileCatalog, issued: Timestamp) -> (MappingResult, MappingBatchSummary) {
        var result = MappingResult(inboxIDs: items.map(\.id))
        var summary = MappingBatchSummary(messages: items.count)
        var failed = Set<InboxID>()

        func fail(_ item: InboxItem, stage: String, type: String, message: String, version: String?, device: String?) {
            guard failed.insert(item.id).inserted else { return }
            result.failures.append(MappingFailure(inboxID: item.id, stage: stage, errorType: type, errorMessage: message, templateVersion: version))
            summary.failedMessages += 1
            summary.lastError = "\(item.message.profile): \(type)"
            if let device {
                summary.devices[device, default: .init(profile: item.message.profile.rawValue, lastSeen: item.message.receivedAt)].failures += 1
                summary.devices[device]?.lastError = type
            }
        }

        // Messages of one profile convert together, in inbox order.
        var order: [String] = []
        var byProfile: [String: [InboxItem]] = [:]
        for item in items {
            let name = item.message.profile.rawValue
            if byProfile[name] == nil { order.append(name) }
            byProfile[name, default: []].append(item)
        }

        for name in order {
            let group = byProfile[name] ?? []
            guard let profile = catalog[name] else {
                for item in group {
                    fail(item, stage: "device-mapping", type: "ProfileNotLoaded",
                         message: "no device profile named \(name) is loaded; restore it, then replay", version: nil, device: item.message.deviceID)
                }
                continue
            }
            var measurements: [Measurement] = []
            // The message of each measurement, by position in `measurements`; hashed into a
            // lookup only when a conversion error has to be traced back to its messages.
            var measurementOrigins: [InboxItem] = []
            var patients: [String: Patient] = [:]
            var devices: [String: Device] = [:]
            // "Patient/<id>|Device/<id>" -> the measurements' times and messages, to link each
            // Observation to a message it came from (retention keeps that message until the
            // Observation is uploaded).
            var sources: [String: [(time: Int64, id: InboxID)]] = [:]
            var referenceKeys: [String: String] = [:]
            // What each message's Observations take from it: receive time, notes (`MessageReceipt`).
            var receipts: [InboxID: MessageReceipt.Receipt] = [:]
            for item in group {
                let json: JSONValue
                do {
                    json = try JSONValue(parsing: item.message.payload)
                } catch {
                    fail(item, stage: "device-mapping", type: "InvalidJSON", message: error.description,
                         version: profile.templateVersion, device: item.message.deviceID)
                    continue
                }
                receipts[item.id] = MessageReceipt.receipt(of: item, message: json)
                let produced: [Measurement]
                do {
                    produced = try profile.deviceTemplates.normalize(
                        json, ingestionTime: item.message.receivedAt, receiveSequence: item.id.rawValue)
                } catch {
                    fail(item, stage: "device-mapping", type: error.type, message: error.description,
                         version: profile.templateVersion, device: item.message.deviceID)
                    continue
                }
                for measurement in produced {
                    measurementOrigins.append(item)
                    var activity = summary.devices[measurement.deviceId]
                        ?? .init(profile: name, lastSeen: item.message.receivedAt)
                    activity.lastSeen = max(activity.lastSeen, item.message.receivedAt)
                    activity.transport = item.message.transport.rawValue
                    if let battery = Self.batteryLevel(json) { activity.battery = battery }
                    summary.devices[measurement.deviceId] = activity
                    if profile.identityMode == .lookup {
                        // The server holds the Device and its Patient: nothing to create, and the
                        // Observation names both by the Device's placeholder until upload.
                        let key = referenceKeys[measurement.deviceId] ?? {
                            let placeholder = ResourceIdentity.lookupPlaceholder(deviceSystem: profile.deviceSystem, deviceId: measurement.deviceId)
                            return "\(profile.subject == .device ? "Device" : "Patient")/\(placeholder)|Device/\(placeholder)"
                        }()
                        referenceKeys[measurement.deviceId] = key
                        sources[key, default: []].append((measurement.occurrenceTime.millisecondsSinceEpoch, item.id))
                    } else if profile.subject == .device {
                        // A room or equipment reading: the Device, without patient, is the subject.
                        if devices[measurement.deviceId] == nil {
                            var device = ResourceIdentity.createModeDevice(
                                deviceId: measurement.deviceId, system: profile.deviceSystem, patientResourceId: nil)
                            profile.deviceTemplate?.apply(to: &device, reported: json["device"])
                            devices[measurement.deviceId] = device
                            referenceKeys[measurement.deviceId] = "Device/\(device.id ?? "")|Device/\(device.id ?? "")"
                        }
                        if let key = referenceKeys[measurement.deviceId] {
                            sources[key, default: []].append((measurement.occurrenceTime.millisecondsSinceEpoch, item.id))
                        }
                    } else if let patientId = measurement.patientId, !patientId.isEmpty {
                        // Hash ids once per device and patient in the batch, not per measurement.
                        let pair = measurement.deviceId + "\u{0}" + patientId
                        if devices[pair] == nil {
                            let patient = ResourceIdentity.createModePatient(patientId: patientId, system: profile.patientSystem)
                            if let patientResourceId = patient.id {
                                patients[patientResourceId] = patient
                                var device = ResourceIdentity.createModeDevice(
                                    deviceId: measurement.deviceId, system: profile.deviceSystem, patientResourceId: patientResourceId)
                                profile.deviceTemplate?.apply(to: &device, reported: json["device"])
                                devices[pair] = device
                                referenceKeys[pair] = "Patient/\(patientResourceId)|Device/\(device.id ?? "")"
                            }
                        } else if let template = profile.deviceTemplate, let reported = json["device"], var device = devices[pair] {
                            // A later message's description of the device (read again on each link) wins.
                            template.apply(to: &device, reported: reported)
                            devices[pair] = device
                        }
                        if let key = referenceKeys[pair] {
                            sources[key, default: []].append((measurement.occurrenceTime.millisecondsSinceEpoch, item.id))
                        }
                    }
                }
                // Count each message once per device it reported for.
                for device in Set(produced.map(\.deviceId)) { summary.devices[device]?.messages += 1 }
                measurements += produced
            }

            for key in sources.keys { sources[key]?.sort { $0.time < $1.time } }
            let conversion = profile.converter.convert(measurements, issued: issued)
            var origins: [Measurement: [InboxItem]] = [:]
            if !conversion.errors.isEmpty {
                for (measurement, item) in zip(measurements, measurementOrigins) { origins[measurement, default: []].append(item) }
            }
            for error in conversion.errors {
                let involved = error.measurements.flatMap { origins[$0] ?? [] }
                for item in involved {
                    fail(item, stage: "fhir-mapping", type: error.type, message: error.description,
                         version: profile.templateVersion, device: error.groupKey.deviceId)
                }
            }
            // Patient and Device first, so that an upstream in Create mode can resolve the references;
            // only those an Observation of the batch names: a reading that failed queues nothing.
            var referenced = Set<String>()
            for observation in conversion.observations {
                if let subject = observation.subject?.reference { referenced.insert(subject) }
                if let device = observation.device?.reference { referenced.insert(device) }
            }
            for key in patients.keys.sorted() where referenced.contains("Patient/" + key) {
                guard let patient = patients[key], let id = patient.id else { continue }
                result.resources.append(OutboxResource(
                    inboxID: nil, resourceType: "Patient", resourceID: id, identityKey: "Patient/" + id, json: patient.json))
            }
            for key in devices.keys.sorted() {
                guard let device = devices[key], let id = device.id, referenced.contains("Device/" + id) else { continue }
                result.resources.append(OutboxResource(
                    inboxID: nil, resourceType: "Device", resourceID: id, identityKey: "Device/" + id, json: device.json))
            }
            var text: [UInt8] = []
            for converted in conversion.observations {
                guard let id = converted.id else { continue }
                let identifier = converted.identifier.first
                let identityKey = identifier.map { ($0.system ?? "") + "|" + ($0.value ?? "") } ?? "Observation/" + id
                let origin = Self.origin(of: converted, among: sources)
                var observation = converted
                if let receipt = origin.flatMap({ receipts[$0] }) { MessageReceipt.apply(receipt, to: &observation) }
                // Straight to bytes, the same text the tree would write; the buffer is reused.
                text.removeAll(keepingCapacity: true)
                observation.writeJSON(into: &text)
                result.resources.append(OutboxResource(
                    inboxID: origin.flatMap { failed.contains($0) ? nil : $0 }, resourceType: "Observation", resourceID: id,
                    identityKey: identityKey, jsonText: text))
            }
            summary.observations += conversion.observations.count
        }
        return (result, summary)
    }

    /// The newest message whose measurements fall in the Observation's period for its patient
    /// and device; failing a time match, the last one of that patient and device.
    /// `sources` lists are sorted by time.
    static func origin(of observation: Observation, among sources: [String: [(time: Int64, id: InboxID)]]) -> InboxID? {
        let key = (observation.subject?.reference ?? "") + "|" + (observation.device?.reference ?? "")
        guard let candidates = sources[key], let last = candidates.last else { return nil }
        guard let startText = observation.effectivePeriod?.start, let start = Timestamp(parsingISO8601Lenient: startText) else {
            return last.id
        }
        let end = observation.effectivePeriod?.end.flatMap { Timestamp(parsingISO8601Lenient: $0) } ?? start
        // First candidate at or after the start, then the newest message up to the end.
        var low = 0
        var high = candidates.count
        while low < high {
            let middle = (low + high) / 2
            if candidates[middle].time < start.millisecondsSinceEpoch { low = middle + 1 } else { high = middle }
        }
        var newest: InboxID?
        var index = low
        while index < candidates.count, candidates[index].time <= end.millisecondsSinceEpoch {
            newest = max(newest ?? candidates[index].id, candidates[index].id)
            index += 1
        }
        return newest ?? last.id
    }
}
