import CMosquitto
import EdgeCore
import EdgeSystem
import Dispatch
import FoundationEssentials

/// One persistent MQTT session with a broker through libmosquitto: QoS 1 subscriptions under a
/// fixed client id with clean session off, so the broker keeps what the gateway has not
/// acknowledged while it is away (a restart, a crash, a lost network) and redelivers it.
///
/// The PUBACK of each message goes out only after `onMessage` has answered `.acknowledge`, i.e.
/// after the gateway committed it. libmosquitto 2.0 (Debian 12 ships 2.0.11) has no manual
/// acknowledgement: it queues the PUBACK just before it calls `on_message` and writes it the
/// next time its loop writes. So the loop runs in threaded mode (queued packets are written only
/// by the loop, never inline) on its own thread, `on_message` blocks that thread until the
/// message is committed, and a message that cannot be committed cuts the socket before the loop
/// writes again: the PUBACK is never sent, and reconnecting discards it. A process killed while a
/// message is being committed sends nothing either. Either way the broker redelivers, and the
/// delivery key lets the store recognise a message it had already committed.
package final class MQTTSession: Sendable {
    let settings: MQTTSessionSettings
    let seed: UInt64
    let onMessage: @Sendable (MQTTMessage) async -> MQTTDisposition

    /// `seed` drives the reconnect jitter; `onMessage` runs once per delivered message, one at a
    /// time, in the broker's order.
    package init(settings: MQTTSessionSettings, seed: UInt64, onMessage: @escaping @Sendable (MQTTMessage) async -> MQTTDisposition) {
        self.settings = settings
        self.seed = seed
        self.onMessage = onMessage
    }

    /// Connects, and reconnects after a backoff, until the task is cancelled; then disconnects
    /// cleanly (PUBACKs of committed messages go out first). `onEvent` sees every event in order.
    package func run(onEvent: @escaping @Sendable (MQTTSessionEvent) async -> Void) async {
        let (events, continuation) = AsyncStream.makeStream(of: MQTTSessionEvent.self)
        let loop = MQTTLoop(settings: settings, seed: seed, onMessage: onMessage, events: continuation)
        loop.start()
        await withTaskCancellationHandler {
            for await event in events { await onEvent(event) }
        } onCancel: {
            loop.stop()
        }
    }
}

/// libmosquitto's global initialisation, once per process.
private let libraryReady: Bool = {
    cmq_ignore_sigpipe()
    return mosquitto_lib_init() == Int32(MOSQ_ERR_SUCCESS.rawValue)
}()

/// The loop thread and what only it touches: the `mosquitto` handle, the withholding state of
/// the current connection and the reconnect schedule. Other threads only set `stopping` (under
/// `wake`), which the loop reads between network waits.
final class MQTTLoop: @unchecked Sendable {
    private let settings: MQTTSessionSettings
    private let onMessage: @Sendable (MQTTMessage) async -> MQTTDisposition
    private let events: AsyncStream<MQTTSessionEvent>.Continuation
    private var schedule: MQTTReconnectSchedule

    private let wake = ThreadCondition()
    // Guarded by `wake`.
    private var stopping = false

    // Loop thread only.
    private var handle: OpaquePointer?
    /// Set when a message of this connection could not be committed: the socket is cut, and
    /// messages still buffered behind it are left for the broker to redeliver.
    private var withheldRetry: Duration?
    private var refusal: String?

    /// How long one network wait lasts; a stop is noticed within this time.
    static let pollMilliseconds: Int32 = 250

    init(
        settings: MQTTSessionSettings, seed: UInt64, onMessage: @escaping @Sendable (MQTTMessage) async -> MQTTDisposition,
        events: AsyncStream<MQTTSessionEvent>.Continuation
    ) {
        self.settings = settings
        self.onMessage = onMessage
        self.events = events
        self.schedule = MQTTReconnectSchedule(backoff: settings.backoff, seed: seed)
    }

    func start() {
        DedicatedThread.start(name: "mqtt " + settings.broker.description) { self.main() }
    }

    func stop() {
        wake.lock()
        stopping = true
        wake.broadcast()
        wake.unlock()
    }

    private var isStopping: Bool {
        wake.lock()
        defer { wake.unlock() }
        return stopping
    }

    /// Waits `delay`, or less when stopped.
    private func pause(_ delay: Duration) {
        let deadline = ContinuousClock.now.advanced(by: delay)
        wake.lock()
        while !stopping, wake.wait(until: deadline) {}
        wake.unlock()
    }

    private func main() {
        defer { events.finish() }
        guard libraryReady else {
            events.yield(.connectFailed(reason: "libmosquitto could not be initialised", retryIn: .zero))
            return
        }
        guard let mosq = mosquitto_new(settings.clientID, false, Unmanaged.passUnretained(self).toOpaque()) else {
            events.yield(.connectFailed(reason: "libmosquitto could not create a client (out of memory or an invalid client id)", retryIn: .zero))
            return
        }
        handle = mosq
        defer {
            mosquitto_destroy(mosq)
            handle = nil
        }
        if let problem = configure(mosq) {
            events.yield(.connectFailed(reason: problem, retryIn: .zero))
            return
        }
        while !isStopping {
            withheldRetry = nil
            refusal = nil
            let rc = mosquitto_connect(mosq, settings.broker.host, Int32(settings.broker.port), Int32(settings.keepAlive))
            guard rc == Self.success else {
                let delay = schedule.failed()
                events.yield(.connectFailed(reason: Self.text(rc), retryIn: delay))
                pause(delay)
                continue
            }
            var result = Self.success
            while !isStopping {
                result = mosquitto_loop(mosq, Self.pollMilliseconds, 1)
                if result != Self.success { break }
            }
            if isStopping, result == Self.success {
                disconnectCleanly(mosq)
                break
            }
            let delay = withheldRetry ?? schedule.failed()
            let reason = withheldRetry != nil ? "a message was not committed; the broker keeps it" : (refusal ?? Self.text(result))
            events.yield(.disconnected(reason: reason, retryIn: delay))
            pause(delay)
        }
    }

    /// Client options: protocol, threaded mode, credentials, TLS, callbacks. A problem is a
    /// sentence naming the setting.
    private func configure(_ mosq: OpaquePointer) -> String? {
        // Threaded mode: packets queued from a callback wait for the loop to write them.
        mosquitto_threaded_set(mosq, true)
        _ = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311)
        if let credentials = settings.credentials {
            let rc = mosquitto_username_pw_set(mosq, credentials.username, credentials.password)
            if rc != Self.success { return "the user name or password is not accepted by libmosquitto: \(Self.text(rc))" }
        }
        if settings.broker.usesTLS || settings.tls != nil {
            guard let tls = settings.tls else { return "\(settings.broker) needs tls.ca, the CA certificate the broker's certificate is checked against" }
            var rc = mosquitto_tls_set(mosq, tls.caFile, nil, tls.certificateFile, tls.keyFile, nil)
            if rc != Self.success { return "TLS files not usable (ca \(tls.caFile)): \(Self.text(rc))" }
            // Verify the broker's certificate and host name; TLS 1.2 at least.
            rc = mosquitto_tls_opts_set(mosq, 1, "tlsv1.2", nil)
            if rc != Self.success { return "TLS options refused: \(Self.text(rc))" }
            rc = mosquitto_tls_insecure_set(mosq, false)
            if rc != Self.success { return "TLS host name verification refused: \(Self.text(rc))" }
        }
        mosquitto_connect_with_flags_callback_set(mosq) { mosq, context, rc, flags in
            guard let mosq, let context else { return }
            Unmanaged<MQTTLoop>.fromOpaque(context).takeUnretainedValue().connected(mosq, rc: rc, flags: flags)
        }
        mosquitto_message_callback_set(mosq) { mosq, context, message in
            guard let mosq, let context, let message else { return }
            Unmanaged<MQTTLoop>.fromOpaque(context).takeUnretainedValue().received(mosq, message.pointee)
        }
        mosquitto_subscribe_callback_set(mosq) { _, context, mid, count, granted in
            guard let context, let granted else { return }
            Unmanaged<MQTTLoop>.fromOpaque(context).takeUnretainedValue().subscribed(mid: mid, granted: Array(UnsafeBufferPointer(start: granted, count: Int(count))))
        }
        return nil
    }

    private var pendingSubscriptions: [Int32: String] = [:]
    private var grantedSubscriptions = 0

    private func connected(_ mosq: OpaquePointer, rc: Int32, flags: Int32) {
        guard rc == 0 else {
            refusal = "the broker refused the connection: " + String(cString: cmq_connack_text(rc))
            return
        }
        schedule.connected()
        events.yield(.connected(sessionPresent: flags & 1 != 0))
        // Subscribed on every connect: the broker keeps a persistent session's subscriptions,
        // but the configuration may have changed since it was made.
        pendingSubscriptions = [:]
        grantedSubscriptions = 0
        for filter in settings.filters {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe(mosq, &mid, filter.text, 1)
            if rc == Self.success {
                pendingSubscriptions[mid] = filter.text
            } else {
                events.yield(.subscriptionRefused(filter: filter.text))
            }
        }
    }

    private func subscribed(mid: Int32, granted: [Int32]) {
        guard let filter = pendingSubscriptions.removeValue(forKey: mid) else { return }
        // 0x80: the broker refused the filter (e.g. its ACL).
        if granted.contains(where: { $0 == 0x80 }) {
            events.yield(.subscriptionRefused(filter: filter))
        } else {
            grantedSubscriptions += 1
        }
        if pendingSubscriptions.isEmpty { events.yield(.subscribed(count: grantedSubscriptions)) }
    }

    private func received(_ mosq: OpaquePointer, _ message: mosquitto_message) {
        guard withheldRetry == nil, !isStopping else { return }
        let topic = message.topic.map { String(cString: $0) } ?? ""
        var payload: [UInt8] = []
        if let bytes = message.payload, message.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(message.payloadlen)))
        }
        let delivered = MQTTMessage(topic: topic, payload: payload, qos: Int(message.qos), retained: message.retain)
        if case .withhold(let retryAfter) = decide(delivered), message.qos > 0 {
            withheldRetry = retryAfter
            _ = cmq_cut_connection(mosq)
        }
    }

    /// Runs `onMessage` and blocks this (dedicated, non-cooperative) thread until it answers:
    /// the PUBACK libmosquitto queued must not be written before then.
    private func decide(_ message: MQTTMessage) -> MQTTDisposition {
        let answer = Answer()
        let onMessage = onMessage
        Task {
            let disposition = await onMessage(message)
            answer.value.withLock { $0 = disposition }
            answer.ready.signal()
        }
        answer.ready.wait()
        return answer.value.withLock { $0 } ?? .acknowledge
    }

    private final class Answer: Sendable {
        let value = Locked<MQTTDisposition?>(nil)
        let ready = DispatchSemaphore(value: 0)
    }

    /// Sends DISCONNECT after the queued PUBACKs, so that the broker ends the session's
    /// connection without treating it as lost.
    private func disconnectCleanly(_ mosq: OpaquePointer) {
        guard mosquitto_disconnect(mosq) == Self.success else { return }
        var rounds = 0
        while rounds < 20, mosquitto_loop(mosq, Self.pollMilliseconds, 1) == Self.success { rounds += 1 }
    }

    static let success = Int32(MOSQ_ERR_SUCCESS.rawValue)

    static func text(_ rc: Int32) -> String {
        String(cString: cmq_error_text(rc))
    }
}
