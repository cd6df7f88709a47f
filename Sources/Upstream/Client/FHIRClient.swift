/// A FHIR R4 REST endpoint: resolves relative paths against the base URL, sets the FHIR JSON
/// headers, authenticates each request and retries once after a 401 with fresh credentials.
package struct FHIRClient: Sendable {
    /// The service base, without a trailing slash (e.g. `https://fhir.example.org/r4`).
    package let baseURL: String
    let transport: any HTTPTransport
    let authenticator: any UpstreamAuthenticator

    package init(baseURL: String, transport: any HTTPTransport, authenticator: any UpstreamAuthenticator = NoAuthentication()) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.transport = transport
        self.authenticator = authenticator
    }

    /// The absolute URL of `path` (`metadata`, `Observation/abc`); absolute URLs pass through.
    package func url(_ path: String) -> String {
        if path.hasPrefix("http://") || path.hasPrefix("https://") { return path }
        if path.isEmpty { return baseURL }
        return baseURL + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// A request for `path` with `Accept` (and, with a body, `Content-Type`) set to FHIR JSON.
    package func request(_ method: String, _ path: String, body: [UInt8] = [], headers: HTTPHeaders = HTTPHeaders()) -> UpstreamRequest {
        var all = headers
        if all["Accept"] == nil { all.set("Accept", "application/fhir+json") }
        if !body.isEmpty, all["Content-Type"] == nil { all.set("Content-Type", "application/fhir+json; charset=utf-8") }
        return UpstreamRequest(method: method, url: url(path), headers: all, body: body)
    }

    /// Sends `request` with credentials; on 401 invalidates them and tries once more.
    package func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        let first = try await sendAuthorized(request)
        guard first.status == 401 else { return first }
        await authenticator.invalidate()
        return try await sendAuthorized(request)
    }

    private func sendAuthorized(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        var authorized = request
        do {
            try await authenticator.authorize(&authorized)
        } catch let error as UpstreamTransportError {
            throw error
        } catch is CancellationError {
            throw UpstreamTransportError(.cancelled, "cancelled while obtaining credentials", url: request.url)
        } catch {
            throw UpstreamTransportError(.authentication, "could not obtain credentials: \(error)", url: request.url, cause: error)
        }
        return try await transport.send(authorized)
    }
}
