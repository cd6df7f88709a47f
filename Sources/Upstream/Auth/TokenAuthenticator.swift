import EdgeCore
import FoundationEssentials
import JSONQuery

/// How the client proves who it is to the token endpoint (RFC 6749 section 2.3, RFC 7523).
enum TokenClientAuthentication: Sendable {
    /// `Authorization: Basic` with the form-encoded id and secret.
    case clientSecretBasic(clientID: String, secret: String)
    /// `client_id` and `client_secret` in the form body.
    case clientSecretPost(clientID: String, secret: String)
    /// A signed JWT as `client_assertion` (SMART Backend Services).
    case privateKeyJWT(ClientAssertionBuilder)
}

/// An authenticator that fetches credentials from somewhere and can say how often it did, for the
/// token-refresh metric.
package protocol CredentialRequestCounting: Sendable {
    /// Token requests sent so far, successful or not.
    var credentialRequests: Int { get async }
}

/// OAuth2 client-credentials grant with any client authentication: obtains an access token from
/// the token endpoint through the same transport as the FHIR requests, caches it until shortly
/// before it expires, and drops it on `invalidate()` (the client's reaction to a 401).
/// Concurrent requests that find no valid token share one token request.
package actor OAuth2TokenAuthenticator: UpstreamAuthenticator, CredentialRequestCounting {
    struct Token: Sendable {
        var value: String
        var expires: Timestamp
    }

    let tokenURL: String
    let clientAuthentication: TokenClientAuthentication
    let scope: String?
    let resource: String?
    let transport: any HTTPTransport
    let now: @Sendable () -> Timestamp
    let randomBytes: @Sendable (Int) -> [UInt8]

    private var token: Token?
    private var pending: Task<Token, any Error>?
    package private(set) var credentialRequests = 0

    init(
        tokenURL: String, clientAuthentication: TokenClientAuthentication, scope: String?, resource: String?,
        transport: any HTTPTransport, now: @escaping @Sendable () -> Timestamp, randomBytes: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.tokenURL = tokenURL
        self.clientAuthentication = clientAuthentication
        self.scope = scope
        self.resource = resource
        self.transport = transport
        self.now = now
        self.randomBytes = randomBytes
    }

    package func authorize(_ request: inout UpstreamRequest) async throws {
        let token = try await currentToken()
        request.headers.set("Authorization", "Bearer " + token.value)
    }

    package func invalidate() async {
        token = nil
    }

    /// The cached token while it is fresh, else a new one (shared with concurrent callers).
    func currentToken() async throws -> Token {
        if let token, now() < token.expires { return token }
        if let pending { return try await pending.value }
        let task = Task { try await self.requestToken() }
        pending = task
        defer { pending = nil }
        let fresh = try await task.value
        token = fresh
        return fresh
    }

    private func requestToken() async throws(UpstreamAuthError) -> Token {
        credentialRequests += 1
        let request = try tokenRequest(at: now())
        let response: UpstreamResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw UpstreamAuthError(
                .tokenEndpointUnreachable, "token endpoint \(Self.withoutQuery(tokenURL)): \(error.message) (\(error.kind))", cause: error)
        }
        return try Self.token(from: response, tokenURL: tokenURL, receivedAt: now())
    }

    /// The form POST for a client-credentials grant.
    func tokenRequest(at time: Timestamp) throws(UpstreamAuthError) -> UpstreamRequest {
        var form: [(String, String)] = [("grant_type", "client_credentials")]
        if let scope { form.append(("scope", scope)) }
        if let resource { form.append(("resource", resource)) }
        var headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        switch clientAuthentication {
        case .clientSecretBasic(let clientID, let secret):
            let pair = FormEncoding.encode(clientID) + ":" + FormEncoding.encode(secret)
            headers.set("Authorization", "Basic " + Data(pair.utf8).base64EncodedString())
        case .clientSecretPost(let clientID, let secret):
            form.append(("client_id", clientID))
            form.append(("client_secret", secret))
        case .privateKeyJWT(let builder):
            let jti = randomBytes(16).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
            form.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            form.append(("client_assertion", try builder.assertion(now: time, jti: jti)))
        }
        let body = form.map { FormEncoding.encode($0.0) + "=" + FormEncoding.encode($0.1) }.joined(separator: "&")
        return UpstreamRequest(method: "POST", url: tokenURL, headers: headers, body: Array(body.utf8))
    }

    /// Reads an RFC 6749 section 5.1 reply. A token is kept until a minute (or a tenth of its
    /// lifetime, if shorter) before it expires, so that it is never presented just as it lapses.
    static func token(from response: UpstreamResponse, tokenURL: String, receivedAt: Timestamp) throws(UpstreamAuthError) -> Token {
        let endpoint = withoutQuery(tokenURL)
        let json = try? JSONValue(parsing: response.body)
        guard (200..<300).contains(response.status) else {
            var detail = "HTTP \(response.status)"
            if let error = json?["error"]?.stringValue { detail += " " + String(error.prefix(80)) }
            if let description = json?["error_description"]?.stringValue { detail += ": " + String(description.prefix(300)) }
            let code: UpstreamAuthError.Code = (400..<500).contains(response.status) && response.status != 408 && response.status != 429
                ? .tokenRefused : .tokenEndpointFailed
            throw UpstreamAuthError(code, "token endpoint \(endpoint) refused the request: \(detail)")
        }
        guard let json, let value = json["access_token"]?.stringValue, !value.isEmpty else {
            throw UpstreamAuthError(.tokenEndpointFailed, "token endpoint \(endpoint) answered without an access_token")
        }
        if let type = json["token_type"]?.stringValue, type.lowercased() != "bearer" {
            throw UpstreamAuthError(.tokenEndpointFailed, "token endpoint \(endpoint) issued a \(type) token; only bearer tokens are supported")
        }
        var lifetime: Int64 = 300
        switch json["expires_in"] {
        case .int(let seconds)?: lifetime = seconds
        case .double(let seconds)?: lifetime = Int64(seconds.rounded(.down))
        case .string(let text)?: lifetime = Int64(text) ?? lifetime
        default: break
        }
        lifetime = max(0, lifetime)
        let margin = min(60, lifetime / 10)
        return Token(value: value, expires: receivedAt.adding(milliseconds: (lifetime - margin) * 1000))
    }

    static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" })
    }
}

/// A token fixed in configuration (read from a file or the environment when the gateway starts).
package struct StaticBearerAuthentication: UpstreamAuthenticator, CustomStringConvertible {
    let token: String

    package init(token: String) {
        self.token = token
    }

    package func authorize(_ request: inout UpstreamRequest) async throws {
        request.headers.set("Authorization", "Bearer " + token)
    }

    /// A static token cannot be renewed; the retried request fails the same way and is reported.
    package func invalidate() async {}

    package var description: String { "static bearer token (redacted)" }
}

/// `application/x-www-form-urlencoded`: everything but RFC 3986 unreserved characters is
/// percent-encoded (so `+`, `/`, `=` in secrets survive), spaces included.
enum FormEncoding {
    static func encode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 15)])
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
