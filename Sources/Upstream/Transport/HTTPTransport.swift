public import EdgeCore

/// One HTTP exchange with the upstream server. The seam between the uploader (and `upstream
/// check`) and the network: `CurlTransport` in production, scripted fakes in tests.
public protocol HTTPTransport: Sendable {
    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse
}

/// An HTTP header line; names compare case-insensitively through `HTTPHeaders`.
public struct HTTPHeader: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Header lines in order, looked up without regard to case.
public struct HTTPHeaders: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [HTTPHeader]

    public init(_ fields: [HTTPHeader] = []) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { HTTPHeader($0.0, $0.1) }
    }

    /// The first value of `name`, if present.
    public subscript(_ name: String) -> String? {
        let wanted = name.lowercased()
        return fields.first { $0.name.lowercased() == wanted }?.value
    }

    /// Replaces every line named `name` with one line holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append(HTTPHeader(name, value))
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeader(name, value))
    }

    public mutating func remove(_ name: String) {
        let wanted = name.lowercased()
        fields.removeAll { $0.name.lowercased() == wanted }
    }

    public func makeIterator() -> IndexingIterator<[HTTPHeader]> {
        fields.makeIterator()
    }
}

public struct UpstreamRequest: Hashable, Sendable {
    /// `GET`, `POST`, `PUT`, `DELETE`, ...
    public var method: String
    /// Absolute URL.
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct UpstreamResponse: Hashable, Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why an exchange produced no HTTP response, classified so the uploader can decide (every
/// kind is retried with backoff except `invalidRequest`) and with the transport's own message.
public struct UpstreamTransportError: CodedError, Hashable, Sendable {
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Nothing listens at the address, or the connection could not be established.
        public static let connectionRefused = Kind(rawValue: "connection-refused")
        /// The connection broke mid-exchange, or the server closed it without replying.
        public static let connectionReset = Kind(rawValue: "connection-reset")
        /// Connect or total timeout; the server may or may not have processed the request.
        public static let timeout = Kind(rawValue: "timeout")
        /// Certificate verification, handshake, CA bundle or client certificate problems.
        public static let tls = Kind(rawValue: "tls")
        /// The host name did not resolve.
        public static let dns = Kind(rawValue: "dns")
        /// The request cannot be sent as given (malformed URL, unsupported scheme); retrying will not help.
        public static let invalidRequest = Kind(rawValue: "invalid-request")
        /// The authenticator could not provide credentials (e.g. the token endpoint failed).
        public static let authentication = Kind(rawValue: "authentication")
        /// The calling task was cancelled.
        public static let cancelled = Kind(rawValue: "cancelled")
        /// The reply body was larger than the configured limit and was not read.
        public static let replyTooLarge = Kind(rawValue: "reply-too-large")
        public static let other = Kind(rawValue: "other")
    }

    public var kind: Kind
    public var message: String
    /// The URL without its query.
    public var url: String?
    /// What failed underneath (e.g. obtaining credentials); never part of equality.
    public var cause: (any Error)?

    public init(_ kind: Kind, _ message: String, url: String? = nil, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.url = url.map(Self.loggable)
        self.cause = cause
    }

    public var code: Kind { kind }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.url == rhs.url
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(message)
        hasher.combine(url)
    }

    /// A URL as logs and errors may show it: without its query, and with any user name and
    /// password in it replaced by `***`.
    public static func loggable(_ url: String) -> String {
        var text = String(url.prefix { $0 != "?" })
        guard let schemeEnd = text.range(of: "://") else { return text }
        let authorityEnd = text[schemeEnd.upperBound...].firstIndex(of: "/") ?? text.endIndex
        if let at = text[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@") {
            text.replaceSubrange(schemeEnd.upperBound..<at, with: "***")
        }
        return text
    }

    public var description: String {
        var text = "upstream \(kind)"
        if let url { text += " at \(url)" }
        return text + ": \(message)"
    }
}
