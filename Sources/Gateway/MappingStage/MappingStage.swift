import EdgeCore
import FHIRModel
import JSONQuery
import Logging
import Mapping
import ServiceLifecycle
import Store

/// Moves the inbox to the outbox: claims a batch, runs each message's profile (normalize every
/// message, then convert the batch's measurements per profile), and commits resources, dead
/// letters and journal entries in one store transaction per batch.
///
/// It wakes when ingest commits (`wake()`) and otherwise polls, for messages that arrive another
/// way (a replay from the CLI, work handed back after a restart). After a batch that was not full
/// it lingers before it looks again (`mapping.linger`): readings that arrive one by one then share
/// the next claim and commit, each an fsync, instead of paying two of their own; a reading after
/// a quiet spell is still mapped at once. On graceful shutdown it finishes the batch in hand and stops.
final class MappingStage: Service, Sendable {
    private let store: Store
    private let catalog: DeviceProfileCatalog
    private let monitor: GatewayMonitor
    private let batchSize: Int
    private let pollInterval: Duration
    private let linger: Duration
    /// How the linger waits; tests step it instead of sleeping.
    private let sleep: @Sendable (Duration) async -> Void
    private let now: @Sendable () -> Timestamp
    private let logger: Logger
    private let signal = WakeUp()
    /// Called after a commit that added outbox rows: the uploader's wake-up.
    private let onCommitted: @Sendable () -> Void
    /// Set at graceful shutdown: the batch in hand completes, no new one is claimed.
    private let stopping = Locked(false)
    /// Messages of a batch whose commit failed, to hand back to the inbox before the next claim.
    private let unreleased = Locked<[InboxID]>([])
    /// Advanced at every pass of the loop and every batch: the watchdog's sign of life.
    let heartbeat: Heartbeat

    init(
        store: Store, catalog: DeviceProfileCatalog, monitor: GatewayMonitor, batchSize: Int,
        pollInterval: Duration = .seconds(1), linger: Duration = .zero,
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
        now: @escaping @Sendable () -> Timestamp,
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
        self.linger = linger
        self.sleep = sleep
        self.now = now
        self.logger = logger
    }

    /// New messages are in the inbox.
    func wake() {
        signal.wake()
    }

    func run() async throws {
        let signal = signal
        let interval = pollInterval
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The poll: a wake-up every interval until the stage stops.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        signal.wake()
                    }
                }
                signal.wake()
                for await _ in signal.wakes {
                    let lastBatch = await drain()
                    heartbeat.beat()
                    // Wake-ups during the linger are kept and count as one.
                    if lastBatch > 0, linger > .zero { await sleep(linger) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
            signal.finish()
        }
    }

    /// Maps batches until the inbox has nothing pending; returns the size of the last batch
    /// (0 when there was nothing to map, or the batch failed).
    @discardableResult
    func drain() async -> Int {
        while !stopping.withLock({ $0 }) {
            do {
                let mapped = try await mapNextBatch()
                heartbeat.beat()
                if mapped < batchSize { return mapped }
            } catch {
                logger.error("Mapping batch failed; its messages are handed back and mapped again at the next poll",
                             metadata: ["edge.store.error": "\(error.code)"])
                await monitor.recordError("mapping: \(error.code)", at: now())
                return 0
            }
        }
        return 0
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
            let mapped = profile.pipeline.map(
                group.map { MappingPipeline.Message(payload: $0.message.payload, receivedAt: $0.message.receivedAt, sequence: $0.id.rawValue, transport: $0.message.transport) },
                issued: issued)
            for (item, (outcome, json)) in zip(group, zip(mapped.outcomes, mapped.messages)) {
                switch outcome {
                case .failure(let failure):
                    fail(item, stage: failure.stage, type: failure.type, message: failure.description,
                         version: profile.templateVersion, device: item.message.deviceID)
                case .success(let produced):
                    // The battery level a message reports (top level or BTHome values), for the status page.
                    let battery = json.flatMap(Self.batteryLevel)
                    for measurement in produced {
                        var activity = summary.devices[measurement.deviceId]
                            ?? .init(profile: name, lastSeen: item.message.receivedAt)
                        activity.lastSeen = max(activity.lastSeen, item.message.receivedAt)
                        activity.transport = item.message.transport.rawValue
                        if let battery { activity.battery = battery }
                        summary.devices[measurement.deviceId] = activity
                    }
                    // Count each message once per device it reported for.
                    for device in Set(produced.map(\.deviceId)) { summary.devices[device]?.messages += 1 }
                }
            }
            for (index, failure) in mapped.conversionFailures {
                fail(group[index], stage: failure.stage, type: failure.type, message: failure.description,
                     version: profile.templateVersion, device: failure.deviceId)
            }
            for resource in mapped.resources where !resource.resourceID.isEmpty {
                let inboxID = resource.origin.map { group[$0].id }
                result.resources.append(OutboxResource(
                    inboxID: inboxID.flatMap { failed.contains($0) ? nil : $0 }, resourceType: resource.resourceType,
                    resourceID: resource.resourceID, identityKey: resource.identityKey, body: resource.body))
            }
            summary.observations += mapped.observationCount
        }
        return (result, summary)
    }
}
