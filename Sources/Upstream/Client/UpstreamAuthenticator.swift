/// Adds credentials to requests. The client calls `authorize` before every send; after a 401 it
/// calls `invalidate` (drop cached tokens) and retries the request once.
package protocol UpstreamAuthenticator: Sendable {
    func authorize(_ request: inout UpstreamRequest) async throws
    func invalidate() async
}

/// No credentials: allowed for loopback servers and for servers that authenticate by mTLS only.
package struct NoAuthentication: UpstreamAuthenticator {
    package init() {}
    package func authorize(_ request: inout UpstreamRequest) async throws {}
    package func invalidate() async {}
}
