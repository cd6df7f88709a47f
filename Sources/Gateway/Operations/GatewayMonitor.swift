import EdgeCore
import JSONQuery

/// The one owner of the gateway's in-memory counters and per-device status, rendered as
/// Prometheus text for `/metrics` and JSON for `/status`. Holds identifiers and counts only,
/// never payloads or patient data.
actor GatewayMonitor {
    struct DeviceStatus: Sendable {
        var profile: String
        var lastSeen: Timestamp
        var messages: Int64 = 0
        var failures: Int64 = 0
        var lastError: String?
        var lastErrorAt: Timestamp?
        var transport: String?
        /// Messages of the UTC day `day` (days since the epoch), for the status page.
        var day: Int64 = 0
        var readingsOfDay: Int64 = 0
        /// The last battery level (percent) a message reported, where the device sends one.
        var battery: Double?

        func readingsToday(_ now: Timestamp) -> Int64 {
            day == Self.day(now) ? readingsOfDay : 0
        }

        static func day(_ time: Timestamp) -> Int64 {
            time.millisecondsSinceEpoch >= 0 ? time.millisecondsSinceEpoch / 86_400_000 : (time.millisecondsSinceEpoch - 86_399_999) / 86_400_000
        }
    }

    struct RequestKey: Hashable, Sendable {
        var route: String
        var status: Int
    }

    private(set) var receivedByProfile: [String: Int64] = [:]
    private(set) var mappedMessages: Int64 = 0
    private(set) var observations: Int64 = 0
    private(set) var deadLettered: Int64 = 0
    private(set) var rejectedByReason: [String: Int64] = [:]
    private(set) var requests: [RequestKey: Int64] = [:]
    private(set) var mappingBatches: Int64 = 0
    private(set) var lastError: (message: String, at: Timestamp)?
    private var devices: [String: DeviceStatus] = [:]
    /// Bounds the device table against hostile input that invents device ids.
    private let maxDevices: Int
    let startedAt: Timestamp

    init(startedAt: Timestamp, maxDevices: Int = 10_000) {
        self.startedAt = startedAt
        self.maxDevices = maxDevices
    }

    func recordRequest(route: String, status: Int) {
        requests[RequestKey(route: route, status: status), default: 0] += 1
    }

    /// Whether intake is currently refused at the high-water mark, so that logs say it once.
    private var refusing = false

    /// Returns true when this acceptance ends a period of refusals.
    @discardableResult
    func recordAccepted(profile: String, count: Int) -> Bool {
        receivedByProfile[profile, default: 0] += Int64(count)
        defer { refusing = false }
        return refusing
    }

    /// Returns true for the first refusal of a period.
    func recordHighWaterRefusal(messages: Int) -> Bool {
        rejectedByReason["high-water-mark", default: 0] += Int64(messages)
        defer { refusing = true }
        return !refusing
    }

    /// A request refused whole: `reason` is a short code (`unauthorized`, `too-large`, `high-water-mark`, ...).
    func recordRejected(reason: String, messages: Int = 1) {
        rejectedByReason[reason, default: 0] += Int64(messages)
    }

    func recordMapping(_ summary: MappingBatchSummary, at time: Timestamp) {
        mappingBatches += 1
        mappedMessages += Int64(summary.messages - summary.failedMessages)
        observations += Int64(summary.observations)
        deadLettered += Int64(summary.failedMessages)
        for (device, activity) in summary.devices {
            if devices[device] == nil, devices.count >= maxDevices { continue }
            var status = devices[device] ?? DeviceStatus(profile: activity.profile, lastSeen: activity.lastSeen)
            status.profile = activity.profile
            status.lastSeen = max(status.lastSeen, activity.lastSeen)
            status.messages += Int64(activity.messages)
            status.failures += Int64(activity.failures)
            let day = DeviceStatus.day(activity.lastSeen)
            if day > status.day {
                status.day = day
                status.readingsOfDay = 0
            }
            if day == status.day { status.readingsOfDay += Int64(activity.messages) }
            if let transport = activity.transport { status.transport = transport }
            if let battery = activity.battery { status.battery = battery }
            if let error = activity.lastError {
                status.lastError = error
                status.lastErrorAt = time
            }
            devices[device] = status
        }
        if let error = summary.lastError { lastError = (error, time) }
    }

    func recordError(_ message: String, at time: Timestamp) {
        lastError = (message, time)
    }

    /// Every device seen since start, sorted by id, for the status page.
    func deviceList() -> [(id: String, status: DeviceStatus)] {
        devices.keys.sorted().compactMap { id in devices[id].map { (id, $0) } }
    }

    /// `/status`: per device last seen, counts and last error; the store's counts.
    func statusJSON(store: StoreSnapshot?, now: Timestamp) -> JSONValue {
        var deviceList: [JSONValue] = []
        for id in devices.keys.sorted() {
            guard let device = devices[id] else { continue }
            var object: JSONObject = [
                "deviceId": .string(id), "profile": .string(device.profile), "lastSeen": .string(device.lastSeen.iso8601),
                "messages": .int(device.messages), "failures": .int(device.failures),
            ]
            if let transport = device.transport { object["transport"] = .string(transport) }
            if let battery = device.battery { object["battery"] = .double(battery) }
            if let error = device.lastError {
                object["lastError"] = .string(error)
                object["lastErrorAt"] = .string(device.lastErrorAt?.iso8601 ?? "")
            }
            deviceList.append(.object(object))
        }
        var counts: JSONObject = [
            "received": .int(receivedByProfile.values.reduce(0, +)), "mapped": .int(mappedMessages),
            "observations": .int(observations), "deadLettered": .int(deadLettered),
            "rejected": .int(rejectedByReason.values.reduce(0, +)),
        ]
        var root: JSONObject = [
            "startedAt": .string(startedAt.iso8601), "now": .string(now.iso8601), "devices": .array(deviceList),
        ]
        if let store {
            counts["storeReceived"] = .int(store.received)
            counts["inbox"] = .int(store.inbox)
            counts["outboxPending"] = .int(store.outboxPending)
            counts["outboxSent"] = .int(store.outboxSent)
            counts["deadLetters"] = .int(store.deadLetters)
            root["store"] = .object([
                "bytes": .int(store.bytes), "journalBytes": .int(store.journalBytes), "atHighWaterMark": .bool(store.atHighWaterMark),
                "oldestUnsentSeconds": store.oldestUnsentSeconds.map { .double($0) } ?? .null,
            ])
        }
        root["counts"] = .object(counts)
        if let lastError {
            root["lastError"] = .object(["message": .string(lastError.message), "at": .string(lastError.at.iso8601)])
        }
        return .object(root)
    }

    /// `/metrics` in the Prometheus text exposition format (version 0.0.4).
    func prometheusText(store: StoreSnapshot?, maxAgeSeconds: Double?) -> String {
        var text = PrometheusText()
        text.family("fhir_edge_received_messages_total", "counter", "Messages committed to the inbox by this process.")
        for profile in receivedByProfile.keys.sorted() {
            text.sample("fhir_edge_received_messages_total", ["profile": profile], Double(receivedByProfile[profile] ?? 0))
        }
        text.family("fhir_edge_mapped_messages_total", "counter", "Messages mapped without error.")
        text.sample("fhir_edge_mapped_messages_total", [:], Double(mappedMessages))
        text.family("fhir_edge_observations_total", "counter", "Observations written to the outbox.")
        text.sample("fhir_edge_observations_total", [:], Double(observations))
        text.family("fhir_edge_dead_lettered_messages_total", "counter", "Messages moved to the dead letters by mapping.")
        text.sample("fhir_edge_dead_lettered_messages_total", [:], Double(deadLettered))
        text.family("fhir_edge_mapping_batches_total", "counter", "Mapping transactions committed.")
        text.sample("fhir_edge_mapping_batches_total", [:], Double(mappingBatches))
        text.family("fhir_edge_rejected_total", "counter", "Ingest requests or messages refused, by reason.")
        for reason in rejectedByReason.keys.sorted() {
            text.sample("fhir_edge_rejected_total", ["reason": reason], Double(rejectedByReason[reason] ?? 0))
        }
        text.family("fhir_edge_http_requests_total", "counter", "Local API requests by route and status.")
        for key in requests.keys.sorted(by: { ($0.route, $0.status) < ($1.route, $1.status) }) {
            text.sample("fhir_edge_http_requests_total", ["route": key.route, "status": String(key.status)], Double(requests[key] ?? 0))
        }
        text.family("fhir_edge_devices", "gauge", "Devices seen since start.")
        text.sample("fhir_edge_devices", [:], Double(devices.count))
        if let store {
            text.family("fhir_edge_inbox_messages", "gauge", "Messages waiting for or in mapping.")
            text.sample("fhir_edge_inbox_messages", [:], Double(store.inbox))
            text.family("fhir_edge_outbox_pending_resources", "gauge", "Resources waiting for upload.")
            text.sample("fhir_edge_outbox_pending_resources", [:], Double(store.outboxPending))
            text.family("fhir_edge_outbox_sent_resources", "gauge", "Uploaded resources still retained.")
            text.sample("fhir_edge_outbox_sent_resources", [:], Double(store.outboxSent))
            text.family("fhir_edge_dead_letters", "gauge", "Dead letters waiting for replay.")
            text.sample("fhir_edge_dead_letters", [:], Double(store.deadLetters))
            text.family("fhir_edge_store_bytes", "gauge", "Stored payload, resource and dead-letter bytes.")
            text.sample("fhir_edge_store_bytes", [:], Double(store.bytes))
            text.family("fhir_edge_journal_bytes", "gauge", "Audit journal bytes, bounded by store.journal.maxBytes.")
            text.sample("fhir_edge_journal_bytes", [:], Double(store.journalBytes))
            text.family("fhir_edge_store_refused_messages_total", "counter", "Messages the store refused at the high-water mark, since it was created.")
            text.sample("fhir_edge_store_refused_messages_total", [:], Double(store.refused))
            text.family("fhir_edge_store_high_water", "gauge", "1 while the store refuses new data.")
            text.sample("fhir_edge_store_high_water", [:], store.atHighWaterMark ? 1 : 0)
            text.family("fhir_edge_oldest_unsent_age_seconds", "gauge", "Age of the oldest message or resource not yet uploaded.")
            text.sample("fhir_edge_oldest_unsent_age_seconds", [:], store.oldestUnsentSeconds ?? 0)
            if let maxAgeSeconds {
                text.family("fhir_edge_store_age_alarm", "gauge", "1 when unsent data is older than store.maxAge.")
                text.sample("fhir_edge_store_age_alarm", [:], (store.oldestUnsentSeconds ?? 0) > maxAgeSeconds ? 1 : 0)
            }
        }
        text.family("fhir_edge_store_up", "gauge", "1 when the store answered this scrape.")
        text.sample("fhir_edge_store_up", [:], store == nil ? 0 : 1)
        return text.output
    }
}

/// What a mapping transaction did, for the monitor.
struct MappingBatchSummary: Sendable {
    struct DeviceActivity: Sendable {
        var profile: String
        var lastSeen: Timestamp
        var messages = 0
        var failures = 0
        var lastError: String?
        var transport: String?
        var battery: Double?
    }

    var messages = 0
    var failedMessages = 0
    var observations = 0
    var devices: [String: DeviceActivity] = [:]
    var lastError: String?
}

/// The store's counts at one moment, as `/metrics`, `/status` and `/health` show them.
struct StoreSnapshot: Sendable {
    var received: Int64
    var refused: Int64
    var inbox: Int64
    var outboxPending: Int64
    var outboxSent: Int64
    var deadLetters: Int64
    var bytes: Int64
    var oldestUnsentSeconds: Double?
    var atHighWaterMark: Bool
    /// Journal bytes, within their share of store.maxBytes (store.journal.maxBytes).
    var journalBytes: Int64 = 0
}

