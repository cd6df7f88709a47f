import Dispatch
import EdgeCore
import Glibc

/// A small HTTP/1.1 client for the gateway's own local API (`fhir-edge simulate`, tests): one
/// keep-alive connection, plain HTTP, bounded waits. Kept here rather than pulling in an HTTP
/// client library (or libcurl through FoundationNetworking, which would grow the daemon's memory)
/// for what is a loopback test peer.
package final class LoopbackHTTPClient: @unchecked Sendable {
    package struct Reply: Sendable {
        package var status: Int
        /// Header names in lowercase.
        package var headers: [String: String]
        package var body: [UInt8]
        package var text: String { String(decoding: body, as: UTF8.self) }
    }

    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var message: String
        package init(message: String) { self.message = message }
        package var description: String { message }
    }

    package let host: String
    package let port: Int
    private let timeoutSeconds: Int
    private var socket: Int32 = -1
    /// Serialises use: callers may share one client from several tasks.
    private let queue = DispatchQueue(label: "fhir-edge.loopback-http")

    package init(host: String, port: Int, timeoutSeconds: Int = 10) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    deinit {
        if socket >= 0 { close(socket) }
    }

    /// Sends one request off the cooperative thread pool (the I/O blocks) and returns the reply.
    package func send(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> Reply {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Reply, any Error>) in
            queue.async {
                do {
                    continuation.resume(returning: try self.sendBlocking(method, path, headers: headers, body: body))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func sendBlocking(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]) throws -> Reply {
        // `Transfer-Encoding: chunked` among the headers sends the body as one chunk, without a length.
        let chunked = headers.contains { $0.0.lowercased() == "transfer-encoding" }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        if !chunked { request += "Content-Length: \(body.count)\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        var bytes = Array(request.utf8)
        if chunked {
            if !body.isEmpty { bytes += Array((String(body.count, radix: 16) + "\r\n").utf8) + body + [13, 10] }
            bytes += Array("0\r\n\r\n".utf8)
        } else {
            bytes += body
        }
        // A kept-alive connection the server closed fails on first use: retry once on a new one.
        for attempt in 0..<2 {
            if socket < 0 { try connectSocket() }
            do {
                try writeAll(bytes)
                return try readReply(method: method)
            } catch let failure as Failure {
                close(socket)
                socket = -1
                if attempt == 1 { throw failure }
            }
        }
        throw Failure(message: "unreachable")
    }

    private func connectSocket() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(message: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    socket = fd
                    return
                }
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw Failure(message: "cannot connect to \(host):\(port)")
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                Glibc.send(socket, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw Failure(message: "connection closed while sending") }
            offset += written
        }
    }

    private var buffered: [UInt8] = []

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw Failure(message: "connection closed or timed out while reading the reply") }
        buffered.append(contentsOf: chunk[0..<count])
    }

    private func readReply(method: String) throws -> Reply {
        buffered.removeAll(keepingCapacity: true)
        var headerEnd: Int?
        while headerEnd == nil {
            try fill()
            headerEnd = Self.find([13, 10, 13, 10], in: buffered)
            if headerEnd == nil, buffered.count > 1 << 20 { throw Failure(message: "reply header too large") }
        }
        guard let end = headerEnd else { throw Failure(message: "no reply header") }
        let head = String(decoding: buffered[0..<end], as: UTF8.self)
        var rest = Array(buffered[(end + 4)...])
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(message: "malformed status line") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingSpaces
        }
        var body: [UInt8] = []
        if method == "HEAD" || status == 204 || status == 304 {
            // no body
        } else if headers["transfer-encoding"]?.lowercased() == "chunked" {
            buffered = rest
            while true {
                var lineEnd = Self.find([13, 10], in: buffered)
                while lineEnd == nil { try fill(); lineEnd = Self.find([13, 10], in: buffered) }
                guard let sizeEnd = lineEnd,
                      let size = Int(String(decoding: buffered[0..<sizeEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16)
                else { throw Failure(message: "malformed chunk") }
                while buffered.count < sizeEnd + 2 + size + 2 { try fill() }
                body.append(contentsOf: buffered[(sizeEnd + 2)..<(sizeEnd + 2 + size)])
                buffered.removeFirst(sizeEnd + 2 + size + 2)
                if size == 0 { break }
            }
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            buffered = rest
            while buffered.count < length { try fill() }
            body = Array(buffered[0..<length])
        } else {
            // Read to close.
            buffered = rest
            while (try? fill()) != nil {}
            body = buffered
            rest = []
            close(socket)
            socket = -1
        }
        if headers["connection"]?.lowercased() == "close", socket >= 0 {
            close(socket)
            socket = -1
        }
        return Reply(status: status, headers: headers, body: body)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        outer: for start in 0...(haystack.count - needle.count) {
            for offset in needle.indices where haystack[start + offset] != needle[offset] { continue outer }
            return start
        }
        return nil
    }
}
