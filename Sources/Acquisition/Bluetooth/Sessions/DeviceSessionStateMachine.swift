package import BluetoothDecoding
package import EdgeCore

/// A standard measurement characteristic found on a device, with what subscribing to it needs.
package struct MeasurementCharacteristic: Sendable, Hashable, CustomStringConvertible {
    /// Which one (heart rate, blood pressure, ...): how its values decode.
    package var characteristic: HealthCharacteristic
    /// Where its values arrive.
    package var valueHandle: UInt16
    /// Its Client Characteristic Configuration descriptor.
    package var configurationHandle: UInt16
    /// Subscribe for indications (each confirmed once delivered) rather than notifications.
    package var indicates: Bool

    package init(_ characteristic: HealthCharacteristic, valueHandle: UInt16, configurationHandle: UInt16, indicates: Bool) {
        self.characteristic = characteristic
        self.valueHandle = valueHandle
        self.configurationHandle = configurationHandle
        self.indicates = indicates
    }

    /// The CCCD value that turns it on: 0x0002 indications, 0x0001 notifications.
    package var configurationValue: [UInt8] { indicates ? [0x02, 0x00] : [0x01, 0x00] }

    package var description: String {
        characteristic.key + "@" + String(valueHandle)
    }
}

/// Why a device session is not receiving, for `/status`, logs and the journal: the stage that
/// failed and what happened, never a payload.
package struct SessionFailure: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Stage: String, Sendable, Hashable {
        case connect, secure, discover, subscribe, link, deliver, decode
    }

    package var stage: Stage
    package var message: String
    /// The ATT error code when the peer refused a request with one.
    package var attError: UInt8?

    package init(_ stage: Stage, _ message: String, attError: UInt8? = nil) {
        self.stage = stage
        self.message = message
        self.attError = attError
    }

    package var description: String { stage.rawValue + ": " + message }

    /// ATT errors that mean "raise the link's security, then ask again" (`ATTErrorCode.asksForSecurity`).
    package var asksForSecurity: Bool {
        attError.map(ATTErrorCode.asksForSecurity) ?? false
    }
}

/// The decisions of one device session, as a pure state machine: events in, actions out.
///
/// connect → (secure, when the device is configured to need pairing) → discover → subscribe to
/// every standard measurement characteristic, one at a time → receive. A subscription refused
/// for lack of security (ATT 0x05/0x0C/0x0F) secures the link (pairing, or re-encryption with a
/// stored bond) and asks again, once. Any failure closes the link; every end of a link waits a
/// jittered, growing backoff and connects again. A link that reached `receiving` resets the
/// count, so a cuff that disconnects after each reading reconnects after the base delay.
package struct DeviceSessionStateMachine: Sendable {
    /// What is known about the current link.
    package struct Link: Sendable, Equatable {
        /// Consecutive failed links before this one.
        package var failures: Int
        package var secured = false
        package var discovered = false
        package var pending: [MeasurementCharacteristic] = []
        package var subscribed: [MeasurementCharacteristic] = []
        /// A subscription was refused for security and retried after securing.
        package var retriedAfterSecuring = false
    }

    package enum State: Sendable, Equatable {
        case idle
        case connecting(failures: Int)
        case securing(Link)
        case discovering(Link)
        case subscribing(Link)
        case receiving(Link)
        /// The link is being closed after a failure; the wait starts once it is down.
        case closing(failures: Int)
        case waiting(failures: Int)
        case stopped
    }

    package enum Event: Sendable, Equatable {
        case start
        case connected
        case connectFailed(SessionFailure)
        case secured
        case discovered([MeasurementCharacteristic])
        case subscribed(MeasurementCharacteristic)
        /// Discovery, securing or a subscription failed on a live link.
        case failed(SessionFailure)
        /// The link went down (the peer, the controller, or our own disconnect).
        case disconnected(reason: UInt8)
        case reconnectDue
        case stop
    }

    package enum Action: Sendable, Equatable {
        case connect
        case secure
        case discover
        case subscribe(MeasurementCharacteristic)
        case disconnect
        case wait(Duration)
        /// Every measurement characteristic is subscribed: the device is up.
        case reportUp([MeasurementCharacteristic])
        case reportFailure(SessionFailure)
        /// A link that was receiving ended; not a failure by itself (cuffs and scales disconnect
        /// after each reading).
        case reportDisconnected(reason: UInt8)
    }

    package private(set) var state: State = .idle
    package let requiresSecurity: Bool
    package let backoff: ReconnectBackoff
    private var random: SplitMix64

    /// - Parameters:
    ///   - requiresSecurity: secure the link (pair or re-encrypt) before discovery.
    ///   - seed: seeds the backoff jitter.
    package init(requiresSecurity: Bool, backoff: ReconnectBackoff, seed: UInt64) {
        self.requiresSecurity = requiresSecurity
        self.backoff = backoff
        self.random = SplitMix64(seed: seed)
    }

    /// Whether a link is up or being set up (so `stop` must close it).
    package var holdsLink: Bool {
        switch state {
        case .securing, .discovering, .subscribing, .receiving, .closing: true
        case .idle, .connecting, .waiting, .stopped: false
        }
    }

    package mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.stopped, _):
            return []
        case (_, .stop):
            let close = holdsLink
            state = .stopped
            return close ? [.disconnect] : []

        case (.idle, .start):
            state = .connecting(failures: 0)
            return [.connect]

        case (.connecting(let failures), .connected):
            let link = Link(failures: failures)
            if requiresSecurity {
                state = .securing(link)
                return [.secure]
            }
            state = .discovering(link)
            return [.discover]
        case (.connecting(let failures), .connectFailed(let failure)):
            return waitAfter(failures: failures + 1, reporting: failure)

        case (.securing(var link), .secured):
            link.secured = true
            if !link.discovered {
                state = .discovering(link)
                return [.discover]
            }
            guard let next = link.pending.first else { return up(link) }
            state = .subscribing(link)
            return [.subscribe(next)]

        case (.discovering(var link), .discovered(let found)):
            link.discovered = true
            guard let first = found.first else {
                return close(link, SessionFailure(.discover, "the device offers no standard measurement characteristic"))
            }
            link.pending = found
            state = .subscribing(link)
            return [.subscribe(first)]

        case (.subscribing(var link), .subscribed(let characteristic)):
            guard link.pending.first == characteristic else { return [] }
            link.pending.removeFirst()
            link.subscribed.append(characteristic)
            guard let next = link.pending.first else { return up(link) }
            state = .subscribing(link)
            return [.subscribe(next)]

        case (.subscribing(var link), .failed(let failure)) where failure.asksForSecurity && !link.retriedAfterSecuring:
            // Refused until the link is encrypted: secure it, then ask again. Only once, so that a
            // device that keeps refusing an encrypted link ends in a failure, not a loop.
            link.retriedAfterSecuring = true
            state = .securing(link)
            return [.secure]

        case (.securing(let link), .failed(let failure)),
             (.discovering(let link), .failed(let failure)),
             (.subscribing(let link), .failed(let failure)),
             (.receiving(let link), .failed(let failure)):
            return close(link, failure)

        case (.securing(let link), .disconnected(let reason)),
             (.discovering(let link), .disconnected(let reason)),
             (.subscribing(let link), .disconnected(let reason)):
            let failure = SessionFailure(.link, "disconnected during setup (\(DisconnectReason.name(reason)))")
            return waitAfter(failures: link.failures + 1, reporting: failure)
        case (.receiving, .disconnected(let reason)):
            // A link that worked: wait the base delay only.
            state = .waiting(failures: 1)
            return [.reportDisconnected(reason: reason), .wait(backoff.delay(failures: 1, using: &random))]
        case (.closing(let failures), .disconnected):
            state = .waiting(failures: failures)
            return [.wait(backoff.delay(failures: failures, using: &random))]

        case (.waiting(let failures), .reconnectDue):
            state = .connecting(failures: failures)
            return [.connect]

        default:
            // Late or duplicate events (a reply racing a disconnect) change nothing.
            return []
        }
    }

    private mutating func up(_ link: Link) -> [Action] {
        var link = link
        link.failures = 0
        state = .receiving(link)
        return [.reportUp(link.subscribed)]
    }

    private mutating func close(_ link: Link, _ failure: SessionFailure) -> [Action] {
        state = .closing(failures: link.failures + 1)
        return [.reportFailure(failure), .disconnect]
    }

    private mutating func waitAfter(failures: Int, reporting failure: SessionFailure) -> [Action] {
        state = .waiting(failures: failures)
        return [.reportFailure(failure), .wait(backoff.delay(failures: failures, using: &random))]
    }
}

/// HCI disconnection reasons by name, for status and logs.
package enum DisconnectReason {
    package static func name(_ reason: UInt8) -> String {
        let hex = "0x" + (reason < 0x10 ? "0" : "") + String(reason, radix: 16, uppercase: true)
        let name: String? = switch reason {
        case 0x08: "connection timeout"
        case 0x13: "remote user terminated"
        case 0x14: "remote device low resources"
        case 0x15: "remote device power off"
        case 0x16: "terminated by local host"
        case 0x22: "LL response timeout"
        case 0x3B: "unacceptable connection parameters"
        case 0x3D: "MIC failure"
        case 0x3E: "connection failed to be established"
        default: nil
        }
        return name.map { "\(hex) \($0)" } ?? hex
    }
}
