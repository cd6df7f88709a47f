import EdgeSystem
package import MQTT
import YAML

/// The gateway configuration's `mqtt:` section: one broker, a persistent session, subscriptions.
///
/// ```yaml
/// mqtt:
///   broker: mqtts://broker.clinic.lan:8883    # mqtt://HOST[:PORT] (1883) or mqtts:// (8883)
///   clientId: fhir-edge-ward-3                # fixed: the broker keeps this session while away
///   keepAlive: 30s
///   tls: {ca: broker-ca.pem, cert: gateway.pem, key: gateway.key}   # cert/key: client certificate
///   usernameFile: /etc/fhir-edge/mqtt-username                      # secret files (0600 or 0640)
///   passwordFile: /etc/fhir-edge/mqtt-password
///   reconnect: {base: 1s, cap: 60s}
///   subscriptions:                            # the first that matches a topic decides its profile
///     - {topic: clinic/+/room-sensor, profile: room-sensor}
///     - {topic: fhir-edge/+/#, profileFromLevel: 2}                 # the topic's 2nd level names it
/// ```
package struct MQTTSection: Sendable, Equatable {
    package var broker: MQTTBrokerAddress
    package var clientID: String
    package var keepAliveSeconds: Int = 30
    package var tls: MQTTTLSFiles?
    package var usernameFile: String?
    package var passwordFile: String?
    package var reconnectBase: Duration = .seconds(1)
    package var reconnectCap: Duration = .seconds(60)
    package var subscriptions: [Subscription]

    package init(broker: MQTTBrokerAddress, clientID: String, subscriptions: [Subscription]) {
        self.broker = broker
        self.clientID = clientID
        self.subscriptions = subscriptions
    }

    package struct Subscription: Sendable, Equatable {
        package var filter: MQTTTopicFilter
        package var profile: ProfileChoice

        package init(filter: MQTTTopicFilter, profile: ProfileChoice) {
            self.filter = filter
            self.profile = profile
        }
    }

    package enum ProfileChoice: Sendable, Equatable {
        /// Every matching message goes to this profile.
        case named(String)
        /// The topic's level N (1-based, a `+` of the filter) names the profile.
        case topicLevel(Int)
    }

    /// The profile of a message on `topic`: the first subscription that matches decides; nil when
    /// none does (a broker may deliver retained or session messages of an older subscription).
    package func profile(forTopic topic: String) -> String? {
        guard let subscription = subscriptions.first(where: { $0.filter.matches(topic) }) else { return nil }
        switch subscription.profile {
        case .named(let name): return name
        case .topicLevel(let level): return MQTTTopicFilter.level(level, of: topic).flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// The `demo --mqtt URL` section: `fhir-edge/<profile>/#` into that profile.
    package static func demo(broker: MQTTBrokerAddress) -> MQTTSection {
        MQTTSection(
            broker: broker, clientID: "fhir-edge-demo",
            subscriptions: [Subscription(filter: MQTTTopicFilter("fhir-edge/+/#")!, profile: .topicLevel(2))])
    }
}

extension ConfigurationDecoder {
    static func decodeMQTT(_ node: YAMLNode?, urlOverride: String?, reader: inout YAMLNodeReader, baseDirectory: String) -> MQTTSection? {
        if let urlOverride {
            guard let broker = MQTTBrokerAddress(url: urlOverride) else {
                reader.problem("mqtt.broker", nil, "--mqtt \(urlOverride): \(MQTTBrokerAddress.problem(urlOverride) ?? "not a broker URL")")
                return nil
            }
            return .demo(broker: broker)
        }
        guard let node else { return nil }
        let keys: Set<String> = ["broker", "clientId", "keepAlive", "tls", "usernameFile", "passwordFile", "reconnect", "subscriptions"]
        guard let section = reader.mapping(node, at: "mqtt", known: keys) else { return nil }
        func path(_ text: String) -> String { FilePaths.resolve(text, against: baseDirectory) }

        var broker: MQTTBrokerAddress?
        if let node = section["broker"], let text = reader.string(node, at: "mqtt.broker") {
            broker = MQTTBrokerAddress(url: text)
            if broker == nil { reader.problem("mqtt.broker", node, "\(text): \(MQTTBrokerAddress.problem(text) ?? "not a broker URL")") }
        } else if section["broker"] == nil {
            reader.problem("mqtt.broker", node, "missing; the broker's URL, e.g. mqtt://127.0.0.1:1883 or mqtts://broker.lan:8883")
        }
        var clientID: String?
        if let node = section["clientId"], let text = reader.string(node, at: "mqtt.clientId") {
            if text.utf8.count > 256 || text.contains("\u{0}") || text.contains(where: \.isWhitespace) {
                reader.problem("mqtt.clientId", node, "at most 256 bytes, without spaces or control characters")
            } else {
                clientID = text
            }
        } else if section["clientId"] == nil {
            reader.problem("mqtt.clientId", node, "missing; a fixed client id lets the broker keep this gateway's session (and what it has not acknowledged) while it is away")
        }
        var keepAlive = 30
        if let node = section["keepAlive"], let ms = reader.duration(node, at: "mqtt.keepAlive") {
            if ms < 5000 || ms > 65_535_000 {
                reader.problem("mqtt.keepAlive", node, "expected 5s to 65535s")
            } else {
                keepAlive = Int(ms / 1000)
            }
        }
        var tls: MQTTTLSFiles?
        if let node = section["tls"], let members = reader.mapping(node, at: "mqtt.tls", known: ["ca", "cert", "key"]) {
            func file(_ key: String) -> String? {
                guard let node = members[key], let text = reader.string(node, at: "mqtt.tls." + key) else { return nil }
                return path(text)
            }
            let ca = file("ca"), cert = file("cert"), key = file("key")
            if ca == nil, members["ca"] == nil { reader.problem("mqtt.tls.ca", node, "missing; the PEM CA certificate the broker's certificate is checked against") }
            if (cert == nil) != (key == nil), members["cert"] == nil || members["key"] == nil {
                reader.problem(cert == nil ? "mqtt.tls.cert" : "mqtt.tls.key", node, "a client certificate needs both cert and key")
            }
            if let ca { tls = MQTTTLSFiles(caFile: ca, certificateFile: cert, keyFile: key) }
            if let broker, !broker.usesTLS {
                reader.problem("mqtt.tls", node, "the broker URL is mqtt:// (no TLS); use mqtts:// to connect with these files")
            }
        } else if let broker, broker.usesTLS, section["tls"] == nil {
            reader.problem("mqtt.tls", node, "\(broker) uses TLS; set tls.ca to the CA certificate that signed the broker's certificate")
        }
        var usernameFile: String?, passwordFile: String?
        if let node = section["usernameFile"], let text = reader.string(node, at: "mqtt.usernameFile") { usernameFile = path(text) }
        if let node = section["passwordFile"], let text = reader.string(node, at: "mqtt.passwordFile") { passwordFile = path(text) }
        if passwordFile != nil, usernameFile == nil, section["usernameFile"] == nil {
            reader.problem("mqtt.usernameFile", node, "missing; MQTT sends a password only with a user name")
        }
        var base: Duration = .seconds(1), cap: Duration = .seconds(60)
        if let node = section["reconnect"], let reconnect = reader.mapping(node, at: "mqtt.reconnect", known: ["base", "cap"]) {
            if let node = reconnect["base"], let ms = reader.duration(node, at: "mqtt.reconnect.base") { base = .milliseconds(ms) }
            if let node = reconnect["cap"], let ms = reader.duration(node, at: "mqtt.reconnect.cap") { cap = .milliseconds(ms) }
            if cap < base { reader.problem("mqtt.reconnect.cap", reconnect["cap"] ?? node, "must not be shorter than mqtt.reconnect.base") }
        }
        var subscriptions: [MQTTSection.Subscription] = []
        if let node = section["subscriptions"], let list = reader.sequence(node, at: "mqtt.subscriptions") {
            if list.isEmpty { reader.problem("mqtt.subscriptions", node, "empty; subscribe to at least one topic filter") }
            for (index, entry) in list.enumerated() {
                if let subscription = decodeSubscription(entry, at: "mqtt.subscriptions.\(index)", reader: &reader) {
                    subscriptions.append(subscription)
                }
            }
        } else if section["subscriptions"] == nil {
            reader.problem("mqtt.subscriptions", node, "missing; list the topic filters to take, each with its profile")
        }
        guard let broker, let clientID else { return nil }
        var mqtt = MQTTSection(broker: broker, clientID: clientID, subscriptions: subscriptions)
        mqtt.keepAliveSeconds = keepAlive
        mqtt.tls = tls
        mqtt.usernameFile = usernameFile
        mqtt.passwordFile = passwordFile
        mqtt.reconnectBase = base
        mqtt.reconnectCap = max(cap, base)
        return mqtt
    }

    private static func decodeSubscription(_ node: YAMLNode, at path: String, reader: inout YAMLNodeReader) -> MQTTSection.Subscription? {
        guard let entry = reader.mapping(node, at: path, known: ["topic", "profile", "profileFromLevel"]) else { return nil }
        var filter: MQTTTopicFilter?
        if let node = entry["topic"], let text = reader.string(node, at: path + ".topic") {
            filter = MQTTTopicFilter(text)
            if filter == nil { reader.problem(path + ".topic", node, "\(text): \(MQTTTopicFilter.problem(text) ?? "not a topic filter")") }
        } else if entry["topic"] == nil {
            reader.problem(path + ".topic", node, "missing; a topic filter such as clinic/+/vitals or clinic/#")
        }
        var choice: MQTTSection.ProfileChoice?
        switch (entry["profile"], entry["profileFromLevel"]) {
        case (let named?, nil):
            if let name = reader.string(named, at: path + ".profile") { choice = .named(name) }
        case (nil, let level?):
            if let number = reader.integer(level, at: path + ".profileFromLevel", range: 1...1000) {
                if let filter, !filter.singleLevelWildcards.contains(number) {
                    reader.problem(path + ".profileFromLevel", level, "level \(number) of \(filter) is not a + wildcard; the profile would never vary")
                } else {
                    choice = .topicLevel(number)
                }
            }
        case (nil, nil):
            reader.problem(path + ".profile", node, "missing; the profile folder whose templates map these messages (or profileFromLevel: N)")
        case (_?, _?):
            reader.problem(path, node, "give profile or profileFromLevel, not both")
        }
        guard let filter, let choice else { return nil }
        return MQTTSection.Subscription(filter: filter, profile: choice)
    }
}
