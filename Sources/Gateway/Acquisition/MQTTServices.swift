import EdgeCore
import EdgeSystem
import FoundationEssentials
import JSONQuery
import Logging
import MQTT
import ServiceLifecycle
import Upstream

extension Gateway {
    /// The MQTT intake for the `mqtt:` section: one persistent session with the broker, each
    /// message taken into the profile its topic's subscription names. Throws, before anything
    /// starts, when a subscription names a missing profile or a secret file is unusable.
    func mqttServices() throws -> [any Service] {
        guard let mqtt = configuration.mqtt else { return [] }
        let problems = MQTTIntake.problems(configuration, catalog: catalog)
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        let settings = try MQTTIntake.settings(mqtt, file: configuration.file)
        logger.info("Subscribing to MQTT topics", metadata: [
            "edge.mqtt.broker": "\(mqtt.broker)", "edge.mqtt.clientId": "\(mqtt.clientID)",
            "edge.mqtt.topics": "\(mqtt.subscriptions.map(\.filter.text).joined(separator: ","))",
        ])
        let intake = MQTTIntake(section: mqtt, sink: intakeSink, health: acquisitionHealth, now: now, logger: logger)
        let session = MQTTSession(settings: settings, seed: UInt64(bitPattern: now().millisecondsSinceEpoch)) { message in
            await intake.take(message)
        }
        return [MQTTIntakeService(session: session, intake: intake)]
    }
}

/// Runs the session until graceful shutdown; the session then sends the PUBACKs of what was
/// committed and disconnects.
struct MQTTIntakeService: Service {
    let session: MQTTSession
    let intake: MQTTIntake

    func run() async {
        await cancelWhenGracefulShutdown {
            await session.run { event in await intake.record(event) }
        }
    }
}

/// Turns delivered MQTT messages into device messages for the intake sink, and the session's
/// events into the broker's line in `/status` → `acquisition` (transport `mqtt`, device = the
/// broker URL). Topics and payloads never reach logs: topics may name patients or rooms.
actor MQTTIntake {
    let section: MQTTSection
    let sink: any MessageSink
    let health: AcquisitionHealth
    let now: @Sendable () -> Timestamp
    let logger: Logger
    private var duplicates: Int64 = 0
    private var rejected: Int64 = 0
    private var unmatched: Int64 = 0
    private var withheld: Int64 = 0

    static let healthProfile = ProfileID("mqtt")

    init(section: MQTTSection, sink: any MessageSink, health: AcquisitionHealth, now: @escaping @Sendable () -> Timestamp, logger: Logger) {
        self.section = section
        self.sink = sink
        self.health = health
        self.now = now
        self.logger = logger
    }

    private var device: String { section.broker.description }
    private var sourceID: String { "mqtt:" + section.clientID }

    /// Commits one message; the answer decides whether its PUBACK goes out.
    func take(_ message: MQTTMessage) async -> MQTTDisposition {
        guard let profile = section.profile(forTopic: message.topic) else {
            // Left over from an older subscription of the persistent session: nothing maps it.
            unmatched += 1
            logger.warning("MQTT message on a topic no subscription maps; acknowledged and dropped", metadata: ["edge.mqtt.unmatched": "\(unmatched)"])
            await health.recordDetails(transport: .mqtt, device: device, profile: Self.healthProfile, details: counters)
            return .acknowledge
        }
        let deviceMessage = DeviceMessage(
            profile: ProfileID(profile), transport: .mqtt, sourceID: sourceID, deviceID: message.topic, payload: message.payload,
            deliveryKey: message.deliveryKey)
        switch await sink.deliver([deviceMessage]) {
        case .accepted(let stored, let duplicates):
            self.duplicates += Int64(duplicates)
            await health.recordSuccess(transport: .mqtt, device: device, profile: Self.healthProfile, readings: stored, at: now(), details: counters)
            return .acknowledge
        case .rejected(let refusal):
            // Never takeable as is (unknown profile, larger than the store): redelivering it would
            // block the session, so it is acknowledged and counted; the sink recorded why.
            rejected += 1
            logger.warning("MQTT message refused", metadata: ["edge.refusal": "\(refusal.code)", "edge.mqtt.profile": "\(profile)"])
            var details = counters
            details["lastRefusal"] = .string(refusal.code)
            await health.recordDetails(transport: .mqtt, device: device, profile: Self.healthProfile, details: details)
            return .acknowledge
        case .retryLater(let refusal, let after):
            withheld += 1
            logger.warning("MQTT message not stored; left with the broker", metadata: [
                "edge.refusal": "\(refusal.code)", "edge.retryIn": "\(after)",
            ])
            await health.recordFailure(
                transport: .mqtt, device: device, profile: Self.healthProfile, error: "store refused: \(refusal.code)", at: now(), details: counters)
            return .withhold(retryAfter: after)
        }
    }

    func record(_ event: MQTTSessionEvent) async {
        switch event {
        case .connected(let sessionPresent):
            logger.info("MQTT connected", metadata: ["edge.mqtt.broker": "\(device)", "edge.mqtt.sessionPresent": "\(sessionPresent)"])
            var details = counters
            details["sessionPresent"] = .bool(sessionPresent)
            await health.recordSuccess(transport: .mqtt, device: device, profile: Self.healthProfile, readings: 0, at: now(), details: details)
        case .subscribed(let count):
            logger.info("MQTT subscribed", metadata: ["edge.mqtt.broker": "\(device)", "edge.mqtt.subscriptions": "\(count)"])
            await health.recordDetails(transport: .mqtt, device: device, profile: Self.healthProfile, details: ["subscriptions": .int(Int64(count))])
        case .subscriptionRefused(let filter):
            logger.error("MQTT broker refused a subscription", metadata: ["edge.mqtt.broker": "\(device)", "edge.mqtt.filter": "\(filter)"])
            await health.recordFailure(
                transport: .mqtt, device: device, profile: Self.healthProfile, error: "subscription refused: \(filter)", at: now(), details: counters)
        case .connectFailed(let reason, let retryIn), .disconnected(let reason, let retryIn):
            logger.warning("MQTT connection lost", metadata: [
                "edge.mqtt.broker": "\(device)", "edge.error": "\(reason)", "edge.retryIn": "\(retryIn)",
            ])
            var details = counters
            details["retryInMs"] = .int(retryIn.components.seconds * 1000 + retryIn.components.attoseconds / 1_000_000_000_000_000)
            await health.recordFailure(transport: .mqtt, device: device, profile: Self.healthProfile, error: reason, at: now(), details: details)
        }
    }

    private var counters: JSONObject {
        ["duplicates": .int(duplicates), "rejected": .int(rejected), "unmatched": .int(unmatched), "withheld": .int(withheld)]
    }

    /// Problems of the `mqtt:` section against the loaded profiles and the secret files, for
    /// `config check` and `run`.
    static func problems(_ configuration: GatewayConfiguration, catalog: DeviceProfileCatalog) -> [ConfigurationProblem] {
        guard let mqtt = configuration.mqtt else { return [] }
        var problems: [ConfigurationProblem] = []
        for (index, subscription) in mqtt.subscriptions.enumerated() {
            if case .named(let name) = subscription.profile, catalog[name] == nil {
                problems.append(ConfigurationProblem(
                    file: configuration.file, keyPath: "mqtt.subscriptions.\(index).profile",
                    message: "no profile folder \(name) under \(configuration.profiles.directory)"))
            }
        }
        do {
            _ = try settings(mqtt, file: configuration.file)
        } catch {
            problems += error.problems
        }
        return problems
    }

    /// The session's settings, with the user name and password read from their secret files
    /// (refused when other users may read them).
    static func settings(_ mqtt: MQTTSection, file: String, secrets: SecretResolver = .process) throws(ConfigurationError) -> MQTTSessionSettings {
        var problems: [ConfigurationProblem] = []
        func secret(_ path: String?, _ key: String) -> String? {
            guard let path else { return nil }
            do {
                return try secrets.text(.file(path, keyPath: "mqtt." + key))
            } catch {
                problems.append(ConfigurationProblem(file: file, keyPath: "mqtt." + key, message: error.message))
                return nil
            }
        }
        let username = secret(mqtt.usernameFile, "usernameFile")
        let password = secret(mqtt.passwordFile, "passwordFile")
        if let tls = mqtt.tls {
            for (path, key) in [(tls.caFile, "ca"), (tls.certificateFile, "cert"), (tls.keyFile, "key")] {
                guard let path else { continue }
                if !FileManager.default.isReadableFile(atPath: path) {
                    problems.append(ConfigurationProblem(file: file, keyPath: "mqtt.tls." + key, message: "cannot read \(path); check the path and its permissions"))
                }
            }
            if let key = tls.keyFile, let mode = FileStatus(path: key)?.permissions, mode & 0o007 != 0 {
                problems.append(ConfigurationProblem(
                    file: file, keyPath: "mqtt.tls.key",
                    message: "the private key \(key) is readable or writable by every user (mode \(String(mode, radix: 8))); chmod 600 it (or 640 with the gateway's group)"))
            }
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return MQTTSessionSettings(
            broker: mqtt.broker, clientID: mqtt.clientID, keepAlive: mqtt.keepAliveSeconds, tls: mqtt.tls,
            credentials: username.map { MQTTCredentials(username: $0, password: password) },
            filters: mqtt.subscriptions.map(\.filter), backoff: ReconnectBackoff(base: mqtt.reconnectBase, cap: mqtt.reconnectCap))
    }
}
