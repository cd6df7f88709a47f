import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

@testable import Bluetooth

/// A loopback TCP proxy between the host and the rig that adds garbage to the controller's byte
/// stream: after every `every` packets it writes `garbage` between two packets. Bytes from the
/// host pass unchanged. One client; threads stop when either side closes.
final class GarbageProxy: Sendable {
    let port: UInt16
    private let listener: Int32
    private let injected = Atomic<Int>(0)

    /// Octets of garbage written so far.
    var garbageBytes: Int { injected.load(ordering: .relaxed) }

    init(upstreamPort: Int, garbage: [UInt8], every: Int) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        guard bound == 0, listen(listener, 1) == 0 else { throw BluetoothError(.transport, "proxy: cannot listen") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        port = UInt16(bigEndian: address.sin_port)
        self.listener = listener
        Thread.detachNewThread { [self] in
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_addr.s_addr = inet_addr("127.0.0.1")
            target.sin_port = UInt16(upstreamPort).bigEndian
            let connected = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { close(client); return }
            Thread.detachNewThread { Self.pump(from: client, to: upstream) { $0 } }
            var framer = H4Framer()
            var count = 0
            Self.pump(from: upstream, to: client) { bytes in
                var out: [UInt8] = []
                for packet in framer.push(bytes) {
                    out += packet.encoded
                    count += 1
                    if count % every == 0 {
                        out += garbage
                        self.injected.add(garbage.count, ordering: .relaxed)
                    }
                }
                return out
            }
        }
    }

    deinit { close(listener) }

    private static func pump(from source: Int32, to sink: Int32, transform: ([UInt8]) -> [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            let out = transform(Array(buffer[0..<count]))
            var offset = 0
            while offset < out.count {
                let written = out[offset...].withUnsafeBytes { write(sink, $0.baseAddress, $0.count) }
                if written <= 0 { break }
                offset += written
            }
        }
        shutdown(sink, Int32(SHUT_RDWR))
        shutdown(source, Int32(SHUT_RDWR))
    }
}
