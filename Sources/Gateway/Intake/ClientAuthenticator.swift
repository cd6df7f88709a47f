import EdgeCore
import EdgeCrypto

/// Who is posting: a configured client, identified by a bearer token whose SHA-256 is in the
/// configuration.
struct ClientAuthenticator: Sendable {
    private let clients: [GatewayConfiguration.Client]

    init(clients: [GatewayConfiguration.Client]) {
        self.clients = clients
    }

    /// The client id for `Authorization: Bearer <token>`, or nil. Every configured hash is
    /// compared in full whatever matches, so timing tells nothing about the tokens.
    func client(forAuthorization header: String?) -> String? {
        authenticated(header)?.id
    }

    /// The configured client for `Authorization: Bearer <token>`, or nil.
    func authenticated(_ header: String?) -> GatewayConfiguration.Client? {
        guard let header, let token = Self.bearerToken(header) else { return nil }
        let digest = SHA256.hash(token.utf8)
        var match: GatewayConfiguration.Client?
        for client in clients where Self.constantTimeEqual(client.tokenHash, digest) {
            match = client
        }
        return match
    }

    static func bearerToken(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].drop { $0 == " " }
        return token.isEmpty ? nil : token
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
