/// How a link was secured.
package enum SecurityOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Encrypted with the stored bond, without pairing.
    case reencrypted(Bond)
    /// Paired and encrypted; `bonded` when both sides keep the keys (the bond is stored).
    case paired(Bond, bonded: Bool)

    package var bond: Bond {
        switch self {
        case .reencrypted(let bond), .paired(let bond, _): bond
        }
    }

    package var description: String {
        switch self {
        case .reencrypted(let bond): "encrypted with the stored bond of \(bond.address)"
        case .paired(let bond, let bonded): "paired with \(bond.address) (\(bond.secureConnections ? "LE Secure Connections" : "LE legacy"), \(bonded ? "bonded" : "not bonded"))"
        }
    }
}
