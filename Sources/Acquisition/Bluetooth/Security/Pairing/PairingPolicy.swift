/// What a device's profile allows when securing its link.
public struct PairingPolicy: Sendable, Equatable {
    /// Accept LE legacy pairing (Just Works with a zero TK, which a passive listener can break)
    /// when the device cannot do Secure Connections. Off unless a profile needs it.
    public var allowLegacyPairing: Bool
    /// Ask the device to bond (keep keys for later reconnections).
    public var bonding: Bool
    /// When the device lost the bond this gateway holds, pair again instead of failing.
    public var repairWhenKeyMissing: Bool

    public init(allowLegacyPairing: Bool = false, bonding: Bool = true, repairWhenKeyMissing: Bool = false) {
        self.allowLegacyPairing = allowLegacyPairing
        self.bonding = bonding
        self.repairWhenKeyMissing = repairWhenKeyMissing
    }

    public static let standard = PairingPolicy()
}
