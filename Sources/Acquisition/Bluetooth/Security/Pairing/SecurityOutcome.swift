/// How a link was secured.
public enum SecurityOutcome: Equatable, Sendable, CustomStringConvertible {
    /// Encrypted with the stored bond, without pairing.
    case reencrypted(Bond)
    /// Paired and encrypted; `bonded` when both sides keep the keys (the bond is stored).
    case paired(Bond, bonded: Bool)

    public var bond: Bond {
        switch self {
        case .reencrypted(let bond), .paired(let bond, _): bond
        }
    }

    public var description: String {
        switch self {
        case .reencrypted(let bond): "encrypted with the stored bond of \(bond.address)"
        case .paired(let bond, let bonded): "paired with \(bond.address) (\(bond.secureConnections ? "LE Secure Connections" : "LE legacy"), \(bonded ? "bonded" : "not bonded"))"
        }
    }
}
