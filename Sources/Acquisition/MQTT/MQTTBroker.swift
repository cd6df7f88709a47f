package import EdgeCore
import EdgeCrypto

/// Where the broker listens: `mqtt://HOST[:PORT]` (TCP, 1883) or `mqtts://HOST[:PORT]` (TLS, 8883).
/// IPv6 literals go in brackets: `mqtt://[::1]:1883`. No path, query or credentials in the URL:
/// credentials come from secret files.
package struct MQTTBrokerAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    package var port: Int
    package var usesTLS: Bool

    package init(host: String, port: Int, usesTLS: Bool) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// Why `url` is not a broker URL, or nil.
    package static func problem(_ url: String) -> String? {
        switch parse(url) {
        case .success: nil
        case .failure(let problem): problem.message
        }
    }

    package init?(url: String) {
        guard case .success(let address) = Self.parse(url) else { return nil }
        self = address
    }

    package struct Problem: Error, Sendable { package var message: String }

    static func parse(_ url: String) -> Result<MQTTBrokerAddress, Problem> {
        let usesTLS: Bool
        let rest: Substring
        if url.hasPrefix("mqtt://") {
            usesTLS = false
            rest = url.dropFirst("mqtt://".count)
        } else if url.hasPrefix("mqtts://") {
            usesTLS = true
            rest = url.dropFirst("mqtts://".count)
        } else {
            return .failure(Problem(message: "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"))
        }
        var authority = rest
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.contains("/"), !authority.contains("?"), !authority.contains("#") else {
            return .failure(Problem(message: "a broker URL has no path or query; topics go under subscriptions"))
        }
        guard !authority.contains("@") else {
            return .failure(Problem(message: "no credentials in the URL; use usernameFile and passwordFile"))
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(Problem(message: "unclosed [ in the IPv6 address")) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(Problem(message: "expected :PORT after the IPv6 address")) }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return .failure(Problem(message: "missing the broker's host name or address")) }
        var port = usesTLS ? 8883 : 1883
        if let portText {
            guard let value = Int(portText), (1...65_535).contains(value) else {
                return .failure(Problem(message: "the port must be a number from 1 to 65535"))
            }
            port = value
        }
        return .success(MQTTBrokerAddress(host: String(host), port: port, usesTLS: usesTLS))
    }

    package var description: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return (usesTLS ? "mqtts://" : "mqtt://") + "\(shown):\(port)"
    }
}

/// TLS to the broker: the CA that signed its certificate (verified, host name included) and,
/// for brokers that require it, the gateway's client certificate and key (PEM files).
package struct MQTTTLSFiles: Sendable, Hashable {
    package var caFile: String
    package var certificateFile: String?
    package var keyFile: String?

    package init(caFile: String, certificateFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}

/// A user name and password read from secret files; never printed.
package struct MQTTCredentials: Sendable, Hashable, CustomStringConvertible {
    package var username: String
    package var password: String?

    package init(username: String, password: String?) {
        self.username = username
        self.password = password
    }

    package var description: String { "MQTTCredentials(redacted)" }
}

/// What one broker connection needs.
package struct MQTTSessionSettings: Sendable {
    package var broker: MQTTBrokerAddress
    /// Fixed, so that the broker keeps this gateway's session (subscriptions and unacknowledged
    /// messages) while it is away.
    package var clientID: String
    /// Seconds between PINGREQs when nothing else is sent (at least 5, libmosquitto's minimum).
    package var keepAlive: Int
    package var tls: MQTTTLSFiles?
    package var credentials: MQTTCredentials?
    package var filters: [MQTTTopicFilter]
    package var backoff: ReconnectBackoff

    package init(
        broker: MQTTBrokerAddress, clientID: String, keepAlive: Int = 30, tls: MQTTTLSFiles? = nil, credentials: MQTTCredentials? = nil,
        filters: [MQTTTopicFilter], backoff: ReconnectBackoff = ReconnectBackoff(base: .seconds(1), cap: .seconds(60))
    ) {
        self.broker = broker
        self.clientID = clientID
        self.keepAlive = keepAlive
        self.tls = tls
        self.credentials = credentials
        self.filters = filters
        self.backoff = backoff
    }
}

/// One PUBLISH the broker delivered.
package struct MQTTMessage: Sendable, Equatable {
    package var topic: String
    package var payload: [UInt8]
    package var qos: Int
    package var retained: Bool

    package init(topic: String, payload: [UInt8], qos: Int = 1, retained: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retained = retained
    }

    /// What identifies a redelivery of this message across reconnects and gateway restarts:
    /// the topic and a SHA-256 of the payload. Packet ids cannot serve: the broker reuses them,
    /// and a redelivery after a restart may carry another. So two publishes with the same bytes
    /// on the same topic are one message: device messages carry their measurement time, and a
    /// repeated identical reading is a repeat, not a new measurement.
    package var deliveryKey: String {
        var hash = SHA256()
        hash.update(topic.utf8)
        hash.update(CollectionOfOne(UInt8(0)))
        hash.update(payload)
        return "mqtt:" + hash.hexDigest()
    }
}

/// What the gateway says about a delivered message.
package enum MQTTDisposition: Sendable, Equatable {
    /// Committed (or refused for good and recorded): the PUBACK may go out.
    case acknowledge
    /// Not taken (store full, store error): no PUBACK; the connection is cut so that the broker
    /// keeps the message and redelivers it when the gateway connects again after `retryAfter`.
    case withhold(retryAfter: Duration)
}

/// What the connection did, in order, for health, metrics and logs. Reasons never carry payloads.
package enum MQTTSessionEvent: Sendable, Equatable {
    case connected(sessionPresent: Bool)
    /// The broker answered every SUBSCRIBE of this connection; `count` were granted.
    case subscribed(count: Int)
    case subscriptionRefused(filter: String)
    /// The TCP/TLS connection or the CONNECT failed; the next attempt is in `retryIn`.
    case connectFailed(reason: String, retryIn: Duration)
    /// An established connection ended; the next attempt is in `retryIn`.
    case disconnected(reason: String, retryIn: Duration)
}
