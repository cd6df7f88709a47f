import EdgeCore
import JSONQuery
import Logging
import Store

/// The one owner of per-device acquisition health (Modbus devices, BLE peripherals): last good
/// reading, consecutive and total errors, the last error by name, and transport details such as
/// RSSI or a Modbus exception code. Rendered in `/status` (`acquisition`) and `/metrics`; a device
/// going down or coming back is journaled once per transition, not once per failed poll.
actor AcquisitionHealth {
    struct Key: Hashable, Sendable, Comparable {
        var transport: String
        var device: String
        static func < (a: Key, b: Key) -> Bool { (a.transport, a.device) < (b.transport, b.device) }
    }

    struct Device: Sendable {
        var profile: String
        var up = false
        var lastGood: Timestamp?
        var lastAttempt: Timestamp?
        var readings: Int64 = 0
        var consecutiveErrors: Int64 = 0
        var errors: Int64 = 0
        var lastError: String?
        var lastErrorAt: Timestamp?
        /// Transport-specific, identifiers and numbers only (e.g. `rssi`, `exception`).
        var details = JSONObject()
    }

    private var devices: [Key: Device] = [:]
    private let journal: @Sendable ([JournalEvent]) async -> Void
    private let logger: Logger

    init(journal: @escaping @Sendable ([JournalEvent]) async -> Void, logger: Logger) {
        self.journal = journal
        self.logger = logger
    }

    /// Convenience for the gateway: transitions go to the store's journal.
    init(store: Store, logger: Logger) {
        self.init(journal: { events in try? await store.journal(events) }, logger: logger)
    }

    /// A good poll or reading; `readings` is how many device messages it produced.
    func recordSuccess(
        transport: Transport, device: String, profile: ProfileID, readings: Int = 1, at time: Timestamp,
        details: JSONObject = JSONObject()
    ) async {
        let key = Key(transport: transport.rawValue, device: device)
        var entry = devices[key] ?? Device(profile: profile.rawValue)
        let cameUp = !entry.up
        entry.up = true
        entry.lastGood = time
        entry.lastAttempt = time
        entry.readings += Int64(readings)
        entry.consecutiveErrors = 0
        for (name, value) in details.members { entry.details[name] = value }
        devices[key] = entry
        if cameUp {
            logger.info("Acquisition device up", metadata: ["edge.transport": "\(key.transport)", "edge.device": "\(device)"])
            await journal([event("acquisition.device.up", key, profile: entry.profile, details: ["readings": .int(entry.readings)])])
        }
    }

    /// A failed poll, connection or decode; `error` names what failed, never carries payloads.
    func recordFailure(
        transport: Transport, device: String, profile: ProfileID, error: String, at time: Timestamp,
        details: JSONObject = JSONObject()
    ) async {
        let key = Key(transport: transport.rawValue, device: device)
        var entry = devices[key] ?? Device(profile: profile.rawValue)
        let wentDown = entry.up || entry.errors == 0
        entry.up = false
        entry.lastAttempt = time
        entry.consecutiveErrors += 1
        entry.errors += 1
        entry.lastError = error
        entry.lastErrorAt = time
        for (name, value) in details.members { entry.details[name] = value }
        devices[key] = entry
        if wentDown {
            logger.warning("Acquisition device down", metadata: [
                "edge.transport": "\(key.transport)", "edge.device": "\(device)", "edge.error": "\(error)",
            ])
            await journal([event("acquisition.device.down", key, profile: entry.profile, details: ["error": .string(error)])])
        }
    }

    /// Transport details that change without a reading (e.g. RSSI of an advert).
    func recordDetails(transport: Transport, device: String, profile: ProfileID, details: JSONObject) {
        let key = Key(transport: transport.rawValue, device: device)
        var entry = devices[key] ?? Device(profile: profile.rawValue)
        for (name, value) in details.members { entry.details[name] = value }
        devices[key] = entry
    }

    func device(transport: Transport, device: String) -> Device? {
        devices[Key(transport: transport.rawValue, device: device)]
    }

    /// Every device, sorted by transport and name, for the status page.
    func deviceList() -> [(transport: String, device: String, status: Device)] {
        devices.keys.sorted().compactMap { key in devices[key].map { (key.transport, key.device, $0) } }
    }

    private func event(_ kind: String, _ key: Key, profile: String, details: JSONObject) -> JournalEvent {
        var all = details
        all["transport"] = .string(key.transport)
        all["device"] = .string(key.device)
        all["profile"] = .string(profile)
        return JournalEvent(kind: JournalKind(kind), actor: key.transport + ":" + key.device, details: all)
    }

    /// `/status` → `acquisition`: one object per device, sorted by transport and name.
    func statusJSON() -> JSONValue {
        .array(devices.keys.sorted().compactMap { key in
            guard let device = devices[key] else { return nil }
            var object: JSONObject = [
                "transport": .string(key.transport), "device": .string(key.device), "profile": .string(device.profile),
                "state": .string(device.up ? "up" : "down"), "readings": .int(device.readings),
                "consecutiveErrors": .int(device.consecutiveErrors), "errors": .int(device.errors),
                "lastGood": device.lastGood.map { .string($0.iso8601) } ?? .null,
            ]
            if let error = device.lastError {
                object["lastError"] = .string(error)
                object["lastErrorAt"] = device.lastErrorAt.map { .string($0.iso8601) } ?? .null
            }
            if !device.details.isEmpty { object["details"] = .object(device.details) }
            return .object(object)
        })
    }

    /// `/metrics` families for acquisition.
    func prometheusText(now: Timestamp) -> String {
        var text = PrometheusText()
        let keys = devices.keys.sorted()
        text.family("fhir_edge_acquisition_up", "gauge", "1 while the device's last poll or connection succeeded.")
        for key in keys { text.sample("fhir_edge_acquisition_up", labels(key), devices[key]?.up == true ? 1 : 0) }
        text.family("fhir_edge_acquisition_readings_total", "counter", "Device messages produced, by device.")
        for key in keys { text.sample("fhir_edge_acquisition_readings_total", labels(key), Double(devices[key]?.readings ?? 0)) }
        text.family("fhir_edge_acquisition_errors_total", "counter", "Failed polls, connections or decodes, by device.")
        for key in keys { text.sample("fhir_edge_acquisition_errors_total", labels(key), Double(devices[key]?.errors ?? 0)) }
        text.family("fhir_edge_acquisition_consecutive_errors", "gauge", "Errors since the device's last good reading.")
        for key in keys {
            text.sample("fhir_edge_acquisition_consecutive_errors", labels(key), Double(devices[key]?.consecutiveErrors ?? 0))
        }
        text.family("fhir_edge_acquisition_last_good_age_seconds", "gauge", "Seconds since the device's last good reading.")
        for key in keys {
            guard let last = devices[key]?.lastGood else { continue }
            text.sample("fhir_edge_acquisition_last_good_age_seconds", labels(key), Double(now.millisecondsSinceEpoch - last.millisecondsSinceEpoch) / 1000)
        }
        return text.output
    }

    private func labels(_ key: Key) -> [String: String] { ["transport": key.transport, "device": key.device] }
}
