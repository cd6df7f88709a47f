extension BluetoothAddress {
    /// The 7-octet address input of f5/f6: the address in wire order, then its type (0 public, 1 random).
    var f5Form: [UInt8] { littleEndianBytes + [type.commandValue.rawValue] }

    /// A resolvable private address: random, top two bits 0b01.
    var isResolvablePrivate: Bool { type.commandValue == .random && value >> 46 == 0b01 }

    /// Whether `irk` generated this resolvable private address (hash = ah(IRK, prand)).
    func isResolved(by irk: [UInt8]) -> Bool {
        guard isResolvablePrivate else { return false }
        let octets = littleEndianBytes
        return SecurityFunctions.ah(irk: irk, prand: Array(octets[3..<6])) == Array(octets[0..<3])
    }
}

/// A 16-octet secret (LTK, IRK). Its description never shows the octets, so a key cannot reach a
/// log line or an error message by accident.
package struct SecretKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Wire order (least significant octet first), as HCI LE Enable Encryption takes it.
    package let octets: [UInt8]

    package init?(octets: [UInt8]) {
        guard octets.count == 16 else { return nil }
        self.octets = octets
    }

    /// A key this side derived (always 16 octets; padded or cut only to stay total).
    init(derived octets: [UInt8]) {
        self.octets = Array((octets + [UInt8](repeating: 0, count: 16)).prefix(16))
    }

    package var description: String { "<16-octet key>" }
    package var debugDescription: String { description }
}

/// What the gateway keeps after bonding with a device, keyed by the device's identity address.
package struct Bond: Hashable, Sendable {
    /// The device's identity address (from its Identity Address Information, else the address
    /// it was paired on).
    package var address: BluetoothAddress
    /// The LTK the link is re-encrypted with.
    package var longTermKey: SecretKey
    /// EDIV and Rand that identify the LTK; both zero with LE Secure Connections.
    package var ediv: UInt16
    package var rand: UInt64
    /// The device's IRK when it distributed one (resolves its private addresses).
    package var identityResolvingKey: SecretKey?
    /// The negotiated encryption key size in octets (7...16).
    package var keySize: Int
    /// MITM-protected (never with Just Works).
    package var authenticated: Bool
    /// Made with LE Secure Connections (vs legacy pairing).
    package var secureConnections: Bool
    /// Milliseconds since the epoch.
    package var pairedAtMilliseconds: Int64

    package init(
        address: BluetoothAddress, longTermKey: SecretKey, ediv: UInt16 = 0, rand: UInt64 = 0,
        identityResolvingKey: SecretKey? = nil, keySize: Int = 16, authenticated: Bool = false, secureConnections: Bool = true,
        pairedAtMilliseconds: Int64
    ) {
        self.address = address
        self.longTermKey = longTermKey
        self.ediv = ediv
        self.rand = rand
        self.identityResolvingKey = identityResolvingKey
        self.keySize = keySize
        self.authenticated = authenticated
        self.secureConnections = secureConnections
        self.pairedAtMilliseconds = pairedAtMilliseconds
    }

    /// Whether this bond belongs to a device seen at `address`: the identity address itself, or a
    /// resolvable private address its IRK resolves.
    package func matches(_ address: BluetoothAddress) -> Bool {
        if address.sameDevice(as: self.address) { return true }
        guard let irk = identityResolvingKey else { return false }
        return address.isResolved(by: irk.octets)
    }
}
