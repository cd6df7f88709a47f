/// A `ModbusLink` through libmodbus, for one TCP device or one RTU line. Every libmodbus call runs
/// on the link's own thread; callers await the result. The connection opens with the first read.
///
/// After a timeout or a reply that does not fit the request, a late reply may still arrive: a TCP
/// link connects anew before its next request; on an RTU line the next request to the same unit
/// waits until that reply would have arrived and discards it, while requests to other units go
/// ahead (a stray frame from another unit fails the unit check), so a late reply is never taken
/// as the answer to another request and a silent unit costs its bus no more than its timeout.
/// Exceptions leave the link as it is. A read that finds an idle TCP connection closed (a server
/// restart) is tried once more on a new connection.
package final class LibmodbusLink: ModbusLink {
    package struct Options: Sendable, Hashable {
        /// Pause between the end of one request and the start of the next, for devices that need it.
        package var interRequestDelay: Duration
        /// Longest gap between two bytes of a reply; nil: the request's timeout.
        package var byteTimeout: Duration?
        /// RTU: how long after a timed-out request its unit's late reply may still come; nil: that
        /// request's timeout again (a reply later than twice the timeout can still be misread).
        package var resyncDelay: Duration?

        package init(interRequestDelay: Duration = .zero, byteTimeout: Duration? = nil, resyncDelay: Duration? = nil) {
            self.interRequestDelay = interRequestDelay
            self.byteTimeout = byteTimeout
            self.resyncDelay = resyncDelay
        }
    }

    /// What the link did to stay usable, for health reports and metrics.
    package struct Counters: Sendable, Hashable {
        /// Connection attempts (TCP connect, serial port open), first ones included.
        package var connects = 0
        /// Connections closed after a timeout, a reply that did not fit, or a connection error.
        package var reconnects = 0
        /// RTU: waits for a late reply to pass, then a flush, after a timeout or a reply that did not fit.
        package var resyncs = 0
        /// Reads repeated once on a new connection after the idle one turned out closed.
        package var retriesOnNewConnection = 0

        package init() {}
    }

    package let endpoint: String
    package let target: ModbusEndpoint
    package let options: Options
    private let thread: LinkThread<LinkSession>

    package init(_ target: ModbusEndpoint, options: Options = Options()) {
        self.target = target
        self.options = options
        self.endpoint = target.description
        thread = LinkThread(
            name: "modbus \(target)",
            make: { LinkSession(endpoint: target, options: options) },
            finish: { $0.release() })
    }

    deinit { thread.stop() }

    package func read(_ request: ModbusReadRequest, timeout: Duration) async throws(ModbusError) -> ModbusReply {
        try await thread.run { $0.read(request, timeout: timeout) }.get()
    }

    package func counters() async -> Counters {
        await thread.run { $0.counters }
    }

    package func close() async {
        await thread.run { $0.release() }
    }
}
