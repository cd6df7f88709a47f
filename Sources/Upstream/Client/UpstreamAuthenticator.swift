/// Adds credentials to requests. The client calls `authorize` before every send; after a 401 it
/// calls `invalidate` (drop cached tokens) and retries the request once.
public protocol UpstreamAuthenticator: Sendable {
    func authorize(_ request: inout UpstreamRequest) async throws
    func invalidate() async
}

/// No credentials: allowed for loopback servers and for servers that authenticate by mTLS only.
public struct NoAuthentication: UpstreamAuthenticator {
    public init() {}
    public func authorize(_ request: inout UpstreamRequest) async throws {}
    public func invalidate() async {}
}
