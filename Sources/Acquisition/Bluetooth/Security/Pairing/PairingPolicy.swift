/// What a device's profile allows when securing its link.
package struct PairingPolicy: Sendable, Equatable {
    /// Accept LE legacy pairing (Just Works with a zero TK, which a passive listener can break)
    /// when the device cannot do Secure Connections. Off unless a profile needs it.
    package var allowLegacyPairing: Bool
    /// Ask the device to bond (keep keys for later reconnections).
    package var bonding: Bool
    /// When the device lost the bond this gateway holds, pair again instead of failing.
    package var repairWhenKeyMissing: Bool

    package init(allowLegacyPairing: Bool = false, bonding: Bool = true, repairWhenKeyMissing: Bool = false) {
        self.allowLegacyPairing = allowLegacyPairing
        self.bonding = bonding
        self.repairWhenKeyMissing = repairWhenKeyMissing
    }

    package static let standard = PairingPolicy()
}
