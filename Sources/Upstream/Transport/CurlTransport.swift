import EdgeCore
import CCurl
import Dispatch
import FoundationEssentials
import Synchronization

/// HTTP over libcurl. Each exchange runs its blocking `curl_easy_perform` on one of a few
/// dedicated serial queues (never on the cooperative pool); each queue keeps one easy handle,
/// so connections, TLS sessions and DNS answers are reused between requests.
package final class CurlTransport: HTTPTransport {
    package struct Options: Sendable, Equatable {
        package var connectTimeout: Duration
        /// The whole exchange, from connecting to the last byte of the reply.
        package var totalTimeout: Duration
        /// PEM file of CA certificates to trust instead of the system's.
        package var caBundlePath: String?
        /// PEM client certificate (and key) for mutual TLS.
        package var clientCertificatePath: String?
        package var clientKeyPath: String?
        /// Skip certificate verification, honoured only for loopback hosts (self-signed test
        /// servers). Verification is always on for every other host.
        package var insecureLoopback: Bool
        /// Parallel exchanges (one thread and one connection each).
        package var connections: Int
        /// Largest reply body read into memory; a larger one aborts the exchange.
        package var maxReplyBytes: Int

        package init(connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(60), caBundlePath: String? = nil,
                    clientCertificatePath: String? = nil, clientKeyPath: String? = nil, insecureLoopback: Bool = false,
                    connections: Int = 1, maxReplyBytes: Int = 64 << 20) {
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.caBundlePath = caBundlePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
            self.insecureLoopback = insecureLoopback
            self.connections = connections
            self.maxReplyBytes = maxReplyBytes
        }
    }

    package let options: Options
    private let workers: [CurlWorker]
    private let next = Atomic<Int>(0)

    package init(options: Options = Options()) {
        CurlTransport.globalInit
        self.options = options
        self.workers = (0..<max(1, options.connections)).map { CurlWorker(index: $0) }
    }

    /// `curl_global_init` is not thread-safe; a static let runs it once, guarded.
    private static let globalInit: Void = {
        _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    package func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        if Task.isCancelled { throw UpstreamTransportError(.cancelled, "cancelled before sending", url: request.url) }
        let worker = workers[next.wrappingAdd(1, ordering: .relaxed).oldValue % workers.count]
        let options = self.options
        let cancellation = CancellationFlag()
        let result: Result<UpstreamResponse, UpstreamTransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                worker.queue.async {
                    continuation.resume(returning: worker.perform(request, options: options, cancellation: cancellation))
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
        return try result.get()
    }

    /// Whether `url`'s host is a loopback address or `localhost`.
    package static func isLoopback(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare.hasSuffix(".localhost") || bare == "::1" { return true }
        // 127.0.0.0/8 as an IPv4 literal only: `127.0.0.1.example.org` is a public name.
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }
}

/// One serial queue and the easy handle only that queue touches.
private final class CurlWorker: @unchecked Sendable {
    // Confined to `queue`: `handle` and `errorBuffer` are only used inside `perform`, which runs there.
    let queue: DispatchQueue
    private var handle: UnsafeMutableRawPointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(index: Int) {
        queue = DispatchQueue(label: "fhir-edge.upstream.curl.\(index)")
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
        errorBuffer.deallocate()
    }

    func perform(_ request: UpstreamRequest, options: CurlTransport.Options, cancellation: CancellationFlag) -> Result<UpstreamResponse, UpstreamTransportError> {
        dispatchPrecondition(condition: .onQueue(queue))
        if handle == nil { handle = curl_easy_init() }
        guard let handle else {
            return .failure(UpstreamTransportError(.other, "libcurl could not create a handle", url: request.url))
        }
        // Reset clears the options but keeps the connection cache, TLS sessions and DNS cache.
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = ResponseSink(limit: options.maxReplyBytes)
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // No `Expect: 100-continue` round trip before bodies.
        headerList = curl_slist_append(headerList, "Expect:")

        let loopback = CurlTransport.isLoopback(request.url)
        let verify = !(loopback && options.insecureLoopback)
        let code: CURLcode = request.body.withUnsafeBufferPointer { body in
            var status = CURLE_OK
            func set(_ result: CURLcode) { if status == CURLE_OK { status = result } }
            set(fe_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
            set(fe_curl_setopt_string(handle, CURLOPT_URL, request.url))
            set(fe_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
            set(fe_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(fe_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
            set(fe_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options.connectTimeout)))
            set(fe_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(options.totalTimeout)))
            set(fe_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""))
            set(fe_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, verify ? 1 : 0))
            set(fe_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, verify ? 2 : 0))
            if let path = options.caBundlePath { set(fe_curl_setopt_string(handle, CURLOPT_CAINFO, path)) }
            if let path = options.clientCertificatePath { set(fe_curl_setopt_string(handle, CURLOPT_SSLCERT, path)) }
            if let path = options.clientKeyPath { set(fe_curl_setopt_string(handle, CURLOPT_SSLKEY, path)) }
            // libcurl calls the progress function at least once a second, also while waiting:
            // a cancelled task (shutdown) aborts the exchange instead of waiting out the timeout.
            set(fe_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0))
            set(fe_curl_setopt_progress(handle, CURLOPT_XFERINFOFUNCTION, curlProgress))
            set(fe_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, Unmanaged.passUnretained(cancellation).toOpaque()))
            set(fe_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
            set(fe_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, curlWriteBody))
            set(fe_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer))
            set(fe_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, curlWriteHeader))
            set(fe_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer))
            let method = request.method.uppercased()
            switch method {
            case "GET" where body.isEmpty:
                set(fe_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            case "HEAD":
                set(fe_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
            default:
                if method != "POST" { set(fe_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)) }
                if !body.isEmpty || method == "POST" || method == "PUT" {
                    set(fe_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
                    let bytes = UnsafeMutableRawPointer(mutating: body.baseAddress) ?? UnsafeMutableRawPointer(mutating: emptyBody)
                    set(fe_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bytes))
                }
            }
            guard status == CURLE_OK else { return status }
            return curl_easy_perform(handle)
        }
        // The options point into this call's buffers; clear them before they go out of scope.
        _ = fe_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        _ = fe_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
        _ = fe_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, nil)
        if code == CURLE_ABORTED_BY_CALLBACK {
            return .failure(UpstreamTransportError(.cancelled, "cancelled while the exchange was in progress", url: request.url))
        }
        if code == CURLE_WRITE_ERROR, sink.overLimit {
            return .failure(UpstreamTransportError(
                .replyTooLarge, "the server's reply exceeds \(options.maxReplyBytes) bytes (upstream.maxReplySize); it was not read", url: request.url))
        }
        guard code == CURLE_OK else {
            return .failure(UpstreamTransportError(Self.kind(of: code), message(for: code), url: request.url))
        }
        var status = 0
        _ = fe_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(UpstreamResponse(status: status, headers: HTTPHeaders(sink.headers), body: sink.body))
    }

    private func message(for code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        if !detail.isEmpty { return detail }
        return String(cString: curl_easy_strerror(code))
    }

    private func milliseconds(_ duration: Duration) -> Int {
        max(1, Int(duration.wholeMilliseconds))
    }

    static func kind(of code: CURLcode) -> UpstreamTransportError.Kind {
        switch code {
        case CURLE_COULDNT_CONNECT: .connectionRefused
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .dns
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM,
             CURLE_WEIRD_SERVER_REPLY:
            .connectionReset
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT:
            .invalidRequest
        default: .other
        }
    }
}

/// Never written after initialisation; libcurl only reads it as a zero-length body.
nonisolated(unsafe) private let emptyBody: UnsafeMutablePointer<UInt8> = {
    let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return pointer
}()

/// Set when the calling task is cancelled; read by libcurl's progress callback on the worker's queue.
final class CancellationFlag: Sendable {
    private let cancelled = Atomic<Bool>(false)
    func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

private let curlProgress: fe_curl_progress_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    return Unmanaged<CancellationFlag>.fromOpaque(context).takeUnretainedValue().isCancelled ? 1 : 0
}

/// Collects one exchange's status-line-delimited headers and body; used only on the worker's queue.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [HTTPHeader] = []
    /// Bytes of body read at most: a server that answers without end cannot exhaust memory.
    let limit: Int
    var overLimit = false

    init(limit: Int) {
        self.limit = limit
    }

    func header(line: String) {
        let trimmed = line.trimmingWhitespace
        if trimmed.hasPrefix("HTTP/") {
            // A new response (after 100 Continue or an authentication round) starts over.
            headers.removeAll()
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = String(trimmed[..<colon])
        let value = String(trimmed[trimmed.index(after: colon)...]).trimmingSpaces
        headers.append(HTTPHeader(name, value))
    }
}

private let curlWriteBody: fe_curl_data_callback = { data, size, count, context in
    guard let context, let data else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard sink.body.count + length <= sink.limit else {
        // Returning less than given makes libcurl abort the transfer with CURLE_WRITE_ERROR.
        sink.overLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private let curlWriteHeader: fe_curl_data_callback = { data, size, count, context in
    guard let context, let data else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    sink.header(line: line)
    return length
}
