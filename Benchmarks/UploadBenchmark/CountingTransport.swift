import Synchronization
import Upstream

/// The real transport, counting what it is asked to send: requests, body bytes, and the bytes
/// of the HTTP/1.1 request (request line, header lines including the Host and Content-Length
/// lines libcurl adds, body), and how long the exchanges took (the time spent waiting on the
/// network and the server). libcurl's Accept-Encoding line is not counted.
final class CountingTransport: HTTPTransport {
    let wrapped: any HTTPTransport
    let requests = Atomic<Int>(0)
    let bodyBytes = Atomic<Int>(0)
    let requestBytes = Atomic<Int>(0)
    let exchangeNanoseconds = Atomic<Int>(0)

    init(_ wrapped: any HTTPTransport) {
        self.wrapped = wrapped
    }

    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        requests.add(1, ordering: .relaxed)
        bodyBytes.add(request.body.count, ordering: .relaxed)
        requestBytes.add(Self.wireSize(request), ordering: .relaxed)
        let start = ContinuousClock.now
        defer {
            let (seconds, attoseconds) = (ContinuousClock.now - start).components
            exchangeNanoseconds.add(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000), ordering: .relaxed)
        }
        return try await wrapped.send(request)
    }

    static func wireSize(_ request: UpstreamRequest) -> Int {
        // "http://host:port/path?query" -> "host:port" and "/path?query".
        let afterScheme = request.url.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        let host = afterScheme.count > 2 ? String(afterScheme[2].prefix { $0 != "/" }) : ""
        let target = afterScheme.count > 2 ? String(afterScheme[2].drop { $0 != "/" }) : "/"
        var size = request.method.utf8.count + 1 + max(1, target.utf8.count) + " HTTP/1.1\r\n".utf8.count
        size += "Host: \r\n".utf8.count + host.utf8.count
        for header in request.headers { size += header.name.utf8.count + 2 + header.value.utf8.count + 2 }
        if !request.body.isEmpty { size += "Content-Length: \r\n".utf8.count + String(request.body.count).utf8.count }
        return size + 2 + request.body.count
    }
}
