/// A byte pipe to a controller carrying H4 packets: the kernel's HCI user channel, a UART, or TCP.
/// Everything above it is the same whichever transport carries it.
package protocol HCITransport: Sendable {
    /// Packets from the controller in order; finishes (with an error when it failed) when the
    /// transport closes. One consumer.
    var incoming: AsyncThrowingStream<H4Packet, any Error> { get }
    /// Queues one packet to the controller, in order, without blocking the caller. A write that
    /// fails closes the transport and finishes `incoming` with the error.
    func send(_ packet: H4Packet)
    /// Closes the transport; `incoming` finishes.
    func close()
}

/// Counters of what a transport had to drop, for health reporting.
package struct TransportStatistics: Sendable, Equatable {
    package var bytesReceived = 0
    package var packetsReceived = 0
    package var packetsSent = 0
    /// Octets dropped because they could not start an H4 packet.
    package var discardedBytes = 0
    /// Times framing was lost and recovered.
    package var resyncs = 0

    package init() {}
}

/// A transport that counts what it received and dropped.
package protocol CountingTransport: HCITransport {
    var statistics: TransportStatistics { get }
}
