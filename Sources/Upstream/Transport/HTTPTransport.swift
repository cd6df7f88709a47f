import EdgeCore
import FoundationEssentials

/// One HTTP exchange with the upstream server. The seam between the uploader (and `upstream
/// check`) and the network: `CurlTransport` in production, scripted fakes in tests.
package protocol HTTPTransport: Sendable {
    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse
}

/// An HTTP header line; names compare case-insensitively through `HTTPHeaders`.
package struct HTTPHeader: Hashable, Sendable {
    package var name: String
    package var value: String

    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Header lines in order, looked up without regard to case.
package struct HTTPHeaders: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    package private(set) var fields: [HTTPHeader]

    package init(_ fields: [HTTPHeader] = []) {
        self.fields = fields
    }

    package init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { HTTPHeader($0.0, $0.1) }
    }

    /// The first value of `name`, if present.
    package subscript(_ name: String) -> String? {
        let wanted = name.lowercased()
        return fields.first { $0.name.lowercased() == wanted }?.value
    }

    /// Replaces every line named `name` with one line holding `value`.
    package mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append(HTTPHeader(name, value))
    }

    package mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeader(name, value))
    }

    package mutating func remove(_ name: String) {
        let wanted = name.lowercased()
        fields.removeAll { $0.name.lowercased() == wanted }
    }

    package func makeIterator() -> IndexingIterator<[HTTPHeader]> {
        fields.makeIterator()
    }
}

package struct UpstreamRequest: Hashable, Sendable {
    /// `GET`, `POST`, `PUT`, `DELETE`, ...
    package var method: String
    /// Absolute URL.
    package var url: String
    package var headers: HTTPHeaders
    package var body: [UInt8]

    package init(method: String, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

package struct UpstreamResponse: Hashable, Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var body: [UInt8]

    package init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    package var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why an exchange produced no HTTP response, classified so the uploader can decide (every
/// kind is retried with backoff except `invalidRequest`) and with the transport's own message.
package struct UpstreamTransportError: CodedError, Hashable, Sendable {
    package struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package let rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// Nothing listens at the address, or the connection could not be established.
        package static let connectionRefused = Kind(rawValue: "connection-refused")
        /// The connection broke mid-exchange, or the server closed it without replying.
        package static let connectionReset = Kind(rawValue: "connection-reset")
        /// Connect or total timeout; the server may or may not have processed the request.
        package static let timeout = Kind(rawValue: "timeout")
        /// Certificate verification, handshake, CA bundle or client certificate problems.
        package static let tls = Kind(rawValue: "tls")
        /// The host name did not resolve.
        package static let dns = Kind(rawValue: "dns")
        /// The request cannot be sent as given (malformed URL, unsupported scheme); retrying will not help.
        package static let invalidRequest = Kind(rawValue: "invalid-request")
        /// The authenticator could not provide credentials (e.g. the token endpoint failed).
        package static let authentication = Kind(rawValue: "authentication")
        /// The calling task was cancelled.
        package static let cancelled = Kind(rawValue: "cancelled")
        /// The reply body was larger than the configured limit and was not read.
        package static let replyTooLarge = Kind(rawValue: "reply-too-large")
        package static let other = Kind(rawValue: "other")
    }

    package var kind: Kind
    package var message: String
    /// The URL without its query.
    package var url: String?
    /// What failed underneath (e.g. obtaining credentials); never part of equality.
    package var cause: (any Error)?

    package init(_ kind: Kind, _ message: String, url: String? = nil, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.url = url.map(Self.loggable)
        self.cause = cause
    }

    package var code: Kind { kind }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.url == rhs.url
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(message)
        hasher.combine(url)
    }

    /// A URL as logs and errors may show it: without its query, and with any user name and
    /// password in it replaced by `***`.
    package static func loggable(_ url: String) -> String {
        var text = String(url.prefix { $0 != "?" })
        guard let schemeEnd = text.firstRange(of: "://") else { return text }
        let authorityEnd = text[schemeEnd.upperBound...].firstIndex(of: "/") ?? text.endIndex
        if let at = text[schemeEnd.upperBound..<authorityEnd].lastIndex(of: "@") {
            text.replaceSubrange(schemeEnd.upperBound..<at, with: "***")
        }
        return text
    }

    package var description: String {
        var text = "upstream \(kind)"
        if let url { text += " at \(url)" }
        return text + ": \(message)"
    }
}
