import EdgeCore
import HL7
package import NIOCore
import NIOPosix
package import NIOSSL

/// The MLLP listener's settings (the gateway's `hl7:` section).
package struct MLLPListenerSettings: Sendable {
    package var host: String
    package var port: Int
    /// No byte for this long outside a frame closes the connection (idle and half-open peers).
    package var idleTimeout: TimeAmount
    /// A frame must end within this long of its start block (slow senders cannot hold a connection).
    package var frameTimeout: TimeAmount
    package var maxConnections: Int
    package var tls: NIOSSLContext?

    package init(host: String, port: Int, idleTimeout: TimeAmount, frameTimeout: TimeAmount, maxConnections: Int, tls: NIOSSLContext? = nil) {
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.frameTimeout = frameTimeout
        self.maxConnections = maxConnections
        self.tls = tls
    }
}

/// Counters of the listener, rendered into `/metrics`.
package final class MLLPMetrics: Sendable {
    private struct State {
        var open = 0
        var accepted = 0
        var closed: [String: Int] = ["idle-timeout": 0, "frame-timeout": 0, "over-capacity": 0, "noise": 0]
        var acks: [String: Int] = ["AA": 0, "AE": 0, "AR": 0]
        var duplicates = 0
    }
    private let state = Locked(State())

    package init() {}

    func opened() { state.withLock { $0.open += 1; $0.accepted += 1 } }
    func closedConnection() { state.withLock { $0.open -= 1 } }
    func closed(reason: String) { state.withLock { $0.closed[reason, default: 0] += 1 } }
    func acknowledged(_ outcome: MLLPOutcome) {
        state.withLock { state in
            state.acks[outcome.code.rawValue, default: 0] += 1
            if outcome.duplicate { state.duplicates += 1 }
        }
    }
    var open: Int { state.withLock { $0.open } }

    package var prometheusText: String {
        let state = state.withLock { $0 }
        var text = PrometheusText()
        text.family("fhir_edge_mllp_connections", "gauge", "Open MLLP connections.")
        text.sample("fhir_edge_mllp_connections", [:], Double(state.open))
        text.family("fhir_edge_mllp_connections_accepted_total", "counter", "MLLP connections accepted.")
        text.sample("fhir_edge_mllp_connections_accepted_total", [:], Double(state.accepted))
        text.family("fhir_edge_mllp_connections_closed_total", "counter", "MLLP connections the gateway closed, by reason.")
        for reason in state.closed.keys.sorted() {
            text.sample("fhir_edge_mllp_connections_closed_total", ["reason": reason], Double(state.closed[reason] ?? 0))
        }
        text.family("fhir_edge_mllp_acks_total", "counter", "HL7 acknowledgments sent, by MSA-1 code.")
        for code in state.acks.keys.sorted() { text.sample("fhir_edge_mllp_acks_total", ["code": code], Double(state.acks[code] ?? 0)) }
        text.family("fhir_edge_mllp_duplicates_total", "counter", "Messages acknowledged again that the store already held.")
        text.sample("fhir_edge_mllp_duplicates_total", [:], Double(state.duplicates))
        return text.output
    }
}

/// Accepts MLLP connections and answers each frame through `MLLPIntake`, one frame at a time per
/// connection in arrival order (the ACK of one is written before the next is handled).
package final class MLLPListener: Sendable {
    package let localPort: Int
    package let metrics: MLLPMetrics
    private let server: NIOAsyncChannel<NIOAsyncChannel<MLLPFramer.Event, ByteBuffer>, Never>
    private let intake: MLLPIntake
    private let onOutcome: @Sendable (MLLPOutcome, String) async -> Void

    private init(
        server: NIOAsyncChannel<NIOAsyncChannel<MLLPFramer.Event, ByteBuffer>, Never>, intake: MLLPIntake, metrics: MLLPMetrics,
        onOutcome: @escaping @Sendable (MLLPOutcome, String) async -> Void
    ) {
        self.server = server
        self.intake = intake
        self.metrics = metrics
        self.onOutcome = onOutcome
        self.localPort = server.channel.localAddress?.port ?? 0
    }

    /// Binds the listening socket (port 0: any free port, see `localPort`). `onOutcome` hears each
    /// frame's outcome with the peer address, after its ACK was queued.
    package static func bind(
        _ settings: MLLPListenerSettings, intake: MLLPIntake, metrics: MLLPMetrics = MLLPMetrics(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onOutcome: @escaping @Sendable (MLLPOutcome, String) async -> Void = { _, _ in }
    ) async throws -> MLLPListener {
        let maxFrame = intake.maxMessageBytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if metrics.open >= settings.maxConnections {
                        metrics.closed(reason: "over-capacity")
                        try sync.addHandler(CloseOnActive())
                    } else {
                        metrics.opened()
                        channel.closeFuture.whenComplete { _ in metrics.closedConnection() }
                        if let tls = settings.tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                        try sync.addHandler(
                            MLLPFrameHandler(maxFrameBytes: maxFrame, idleTimeout: settings.idleTimeout, frameTimeout: settings.frameTimeout, metrics: metrics))
                    }
                    return try NIOAsyncChannel<MLLPFramer.Event, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2)))
                }
            }
        return MLLPListener(server: server, intake: intake, metrics: metrics, onOutcome: onOutcome)
    }

    /// Serves until the task is cancelled, then closes the listening socket and every connection.
    package func run() async {
        await withDiscardingTaskGroup { group in
            do {
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            } catch {
                // The listening socket closed (shutdown): the connections end with the group.
            }
            group.cancelAll()
        }
    }

    private func serve(_ connection: NIOAsyncChannel<MLLPFramer.Event, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress?.description ?? "unknown"
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await event in inbound {
                    let (ack, outcome): (String, MLLPOutcome)
                    switch event {
                    case .frame(let bytes): (ack, outcome) = await intake.handle(frame: bytes, peer: peer)
                    case .oversized(let head): (ack, outcome) = intake.oversized(head: head)
                    }
                    // Counted before the write: a sender that has read its ACK must find it in the metrics.
                    metrics.acknowledged(outcome)
                    try await outbound.write(ByteBuffer(bytes: MLLPFramer.frame(ack.utf8)))
                    await onOutcome(outcome, peer)
                }
            }
        } catch {
            // The peer went away or a timeout closed the connection; a message not yet
            // acknowledged is the sender's to resend.
        }
    }
}

/// Over the connection cap: closed as soon as it opens.
final class CloseOnActive: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

/// Frames the byte stream and guards the connection's time: outside a frame no bytes for
/// `idleTimeout` closes it; a frame not ended within `frameTimeout` of its start closes it; more
/// noise between frames than one frame may hold closes it.
final class MLLPFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = MLLPFramer.Event

    private var framer: MLLPFramer
    private let idleTimeout: TimeAmount
    private let frameTimeout: TimeAmount
    private let metrics: MLLPMetrics
    private var idleTimer: Scheduled<Void>?
    private var frameTimer: Scheduled<Void>?

    init(maxFrameBytes: Int, idleTimeout: TimeAmount, frameTimeout: TimeAmount, metrics: MLLPMetrics) {
        self.framer = MLLPFramer(maxFrameBytes: maxFrameBytes)
        self.idleTimeout = idleTimeout
        self.frameTimeout = frameTimeout
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdle(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        frameTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let events = framer.feed(buffer.readableBytesView)
        if framer.strayBytes > framer.maxFrameBytes {
            metrics.closed(reason: "noise")
            context.close(promise: nil)
            return
        }
        if framer.isInsideFrame {
            idleTimer?.cancel()
            idleTimer = nil
            if frameTimer == nil || !events.isEmpty { armFrame(context) }
        } else {
            frameTimer?.cancel()
            frameTimer = nil
            armIdle(context)
        }
        for event in events { context.fireChannelRead(wrapInboundOut(event)) }
    }

    private func armIdle(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let channel = context.channel, metrics = self.metrics
        idleTimer = context.eventLoop.scheduleTask(in: idleTimeout) {
            metrics.closed(reason: "idle-timeout")
            channel.close(promise: nil)
        }
    }

    private func armFrame(_ context: ChannelHandlerContext) {
        frameTimer?.cancel()
        let channel = context.channel, metrics = self.metrics
        frameTimer = context.eventLoop.scheduleTask(in: frameTimeout) {
            metrics.closed(reason: "frame-timeout")
            channel.close(promise: nil)
        }
    }
}
