import EdgeCore
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// The local API's connections, so that slow or idle clients cannot hold the gateway: at most
/// `limit` connections are open; over it the connection that has waited longest without sending a
/// request head (an idle keep-alive or a slow-headers client) is closed to make room, and only when
/// every connection is busy with a request does the server stop accepting until one ends.
final class ConnectionRegistry: Sendable {
    let limit: Int
    private let state = Locked(State())

    private struct State {
        var open = 0
        var next: UInt64 = 0
        /// Connections waiting for a request head, by registration order (oldest first).
        var waiting: [UInt64: any Channel] = [:]
        var evicted = 0
        var idleTimeouts = 0
        var bodyTimeouts = 0
    }

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Prometheus lines: open connections, and those closed to make room or for being too slow.
    var prometheusText: String {
        let (open, evicted, idle, body) = state.withLock { ($0.open, $0.evicted, $0.idleTimeouts, $0.bodyTimeouts) }
        var text = PrometheusText()
        text.family("fhir_edge_http_connections", "gauge", "Open local API connections.")
        text.sample("fhir_edge_http_connections", [:], Double(open))
        text.family("fhir_edge_http_connections_closed_total", "counter", "Connections the gateway closed, by reason.")
        for (reason, count) in [("evicted", evicted), ("idle-timeout", idle), ("body-timeout", body)] {
            text.sample("fhir_edge_http_connections_closed_total", ["reason": reason], Double(count))
        }
        return text.output
    }

    func timedOut(readingBody: Bool) {
        state.withLock { state in
            if readingBody { state.bodyTimeouts += 1 } else { state.idleTimeouts += 1 }
        }
    }

    func opened() {
        let victim: (any Channel)? = state.withLock { state in
            state.open += 1
            guard state.open > limit, let oldest = state.waiting.keys.min() else { return nil }
            state.evicted += 1
            return state.waiting.removeValue(forKey: oldest)
        }
        victim?.close(promise: nil)
    }

    func closed() {
        state.withLock { $0.open -= 1 }
    }

    /// A new connection can be taken when there is room or one waiting connection to close for it.
    var accepting: Bool {
        state.withLock { $0.open < limit || !$0.waiting.isEmpty }
    }

    /// The connection waits for a request head from now on; the token is its place in line.
    func waiting(_ channel: any Channel) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.waiting[state.next] = channel
            return state.next
        }
    }

    /// The connection is busy with a request (or gone): it is no longer a candidate to close.
    func busy(_ token: UInt64) {
        _ = state.withLock { $0.waiting.removeValue(forKey: token) }
    }
}

/// Hummingbird's accept control, deciding through the registry.
struct ConnectionCap: AvailableConnectionsDelegate {
    let registry: ConnectionRegistry

    mutating func connectionOpened() { registry.opened() }
    mutating func connectionClosed() { registry.closed() }
    func isAcceptingNewConnections() -> Bool { registry.accepting }
}

/// Per connection: a request head must arrive within `idleTimeout` of the connection opening or
/// of the previous response (slow headers and idle keep-alive alike), and a request's body within
/// `bodyTimeout` of its head; otherwise the connection is closed.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let registry: ConnectionRegistry
    private let idleTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private var token: UInt64?
    private var timer: Scheduled<Void>?

    init(registry: ConnectionRegistry, idleTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.registry = registry
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        awaitHead(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        settle()
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            if let token { registry.busy(token) }
            token = nil
            arm(context, after: bodyTimeout, reading: true)
        case .end:
            timer?.cancel()
            timer = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { awaitHead(context) }
        context.write(data, promise: promise)
    }

    private func awaitHead(_ context: ChannelHandlerContext) {
        if token == nil { token = registry.waiting(context.channel) }
        arm(context, after: idleTimeout, reading: false)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, reading: Bool) {
        timer?.cancel()
        let channel = context.channel
        let registry = self.registry
        timer = context.eventLoop.scheduleTask(in: delay) {
            registry.timedOut(readingBody: reading)
            channel.close(promise: nil)
        }
    }

    private func settle() {
        timer?.cancel()
        timer = nil
        if let token { registry.busy(token) }
        token = nil
    }
}

/// The request body bytes all ingest requests hold at once, so that many large requests together
/// cannot exhaust memory: a request that would pass the budget is answered 503 with Retry-After.
final class InFlightBytes: Sendable {
    let limit: Int
    private let held = Locked(0)

    init(limit: Int) {
        self.limit = limit
    }

    func reserve(_ bytes: Int) -> Bool {
        held.withLock { held in
            guard held + bytes <= limit else { return false }
            held += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        held.withLock { $0 -= bytes }
    }
}
