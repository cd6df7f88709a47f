import Dispatch
import FoundationEssentials
import EdgeCore
import EdgeSystem
#if canImport(Glibc)
import Glibc
#endif

/// An H4 transport over a file descriptor (a TCP socket, a serial port, an HCI user-channel
/// socket). Reads run on a dedicated thread that polls, frames and yields packets; writes run in
/// order on a serial dispatch queue, so neither blocks the caller nor the cooperative pool.
/// The descriptor is closed by the reading thread when it stops, under the same lock writers hold,
/// so no write can reach a reused descriptor.
final class FileDescriptorTransport: CountingTransport {
    let name: String
    let incoming: AsyncThrowingStream<H4Packet, any Error>
    private let continuation: AsyncThrowingStream<H4Packet, any Error>.Continuation
    private let state: Locked<State>
    private let writer: DispatchQueue

    private struct State {
        var descriptor: Int32
        var closing = false
        var statistics = TransportStatistics()
    }

    /// Takes ownership of `descriptor` and starts the reading thread.
    static func start(descriptor: Int32, name: String) -> FileDescriptorTransport {
        let transport = FileDescriptorTransport(descriptor: descriptor, name: name)
        DedicatedThread.start(name: "hci-read \(name)") { transport.readLoop() }
        return transport
    }

    private init(descriptor: Int32, name: String) {
        self.name = name
        state = Locked(State(descriptor: descriptor))
        writer = DispatchQueue(label: "hci-write \(name)")
        (incoming, continuation) = AsyncThrowingStream.makeStream(of: H4Packet.self, throwing: (any Error).self)
    }

    var statistics: TransportStatistics { state.withLock { $0.statistics } }

    func send(_ packet: H4Packet) {
        let bytes = packet.encoded
        writer.async { [self] in
            let failure: BluetoothError? = state.withLock { state in
                guard !state.closing else { return nil }
                var offset = 0
                while offset < bytes.count {
                    let written = bytes[offset...].withUnsafeBytes { Glibc.write(state.descriptor, $0.baseAddress, $0.count) }
                    if written < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        state.closing = true
                        return BluetoothError(.transport, "\(name): write failed: \(String(cString: strerror(errno)))")
                    }
                    offset += written
                }
                state.statistics.packetsSent += 1
                return nil
            }
            if let failure { continuation.finish(throwing: failure) }
        }
    }

    func close() {
        state.withLock { $0.closing = true }
    }

    private func readLoop() {
        var framer = H4Framer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        var failure: BluetoothError?
        let descriptor = state.withLock { $0.descriptor }
        while true {
            if state.withLock({ $0.closing }) { break }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready < 0 {
                if errno == EINTR { continue }
                failure = BluetoothError(.transport, "\(name): poll failed: \(String(cString: strerror(errno)))")
                break
            }
            if ready == 0 { continue }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                failure = BluetoothError(.transport, "\(name): read failed: \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 {
                failure = BluetoothError(.transport, "\(name): the controller closed the connection")
                break
            }
            let packets = framer.push(chunk[0..<count])
            state.withLock {
                $0.statistics.bytesReceived += count
                $0.statistics.packetsReceived += packets.count
                $0.statistics.discardedBytes = framer.discardedBytes
                $0.statistics.resyncs = framer.resyncs
            }
            for packet in packets { continuation.yield(packet) }
        }
        let wasClosing = state.withLock { state in
            let wasClosing = state.closing
            state.closing = true
            Glibc.close(state.descriptor)
            return wasClosing
        }
        if wasClosing { continuation.finish() } else { continuation.finish(throwing: failure) }
    }
}

