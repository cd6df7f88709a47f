/// What a request to the local API asks to do, and which roles may. Ingest is decided per
/// profile (`profiles.access`), `/health` is open; everything else needs a role.
enum APIAction: String, Sendable, CaseIterable {
    /// `/status`, `/metrics`, the status page.
    case view
    /// Dead-letter replay and discard, and what `view` allows to see.
    case operate
    /// The journal: read, verify.
    case audit

    func allowed(for roles: Set<GatewayConfiguration.Role>) -> Bool {
        if roles.contains(.admin) { return true }
        switch self {
        case .view: return roles.contains(.viewer) || roles.contains(.operator)
        case .operate: return roles.contains(.operator)
        case .audit: return roles.contains(.auditor)
        }
    }

    /// The roles of a loopback client without a token in demo mode: the page and the queue
    /// operations, like demo ingest; the journal stays behind a token.
    static let demoRoles: Set<GatewayConfiguration.Role> = [.viewer, .operator]
}
