import Crypto

/// One side's P-256 key pair for LE Secure Connections, with the public key in SMP's wire form:
/// X then Y, each 32 octets least significant first.
struct PairingKeyPair: Sendable {
    let privateKey: P256.KeyAgreement.PrivateKey

    /// The debug public key of Vol 3 Part H §2.3.5.6.1 (wire order): its private key is
    /// published, so a device that presents it outside a test bench is refused.
    static let debugPublicKey: [UInt8] = [
        0xe6, 0x9d, 0x35, 0x0e, 0x48, 0x01, 0x03, 0xcc, 0xdb, 0xfd, 0xf4, 0xac, 0x11, 0x91, 0xf4, 0xef,
        0xb9, 0xa5, 0xf9, 0xe9, 0xa7, 0x83, 0x2c, 0x5e, 0x2c, 0xbe, 0x97, 0xf2, 0xd2, 0x03, 0xb0, 0x20,
        0x8b, 0xd2, 0x89, 0x15, 0xd0, 0x8e, 0x1c, 0x74, 0x24, 0x30, 0xed, 0x8f, 0xc2, 0x45, 0x63, 0x76,
        0x5c, 0x15, 0x52, 0x5a, 0xbf, 0x9a, 0x32, 0x63, 0x6d, 0xeb, 0x2a, 0x65, 0x49, 0x9c, 0x80, 0xdc,
    ]

    /// A fresh key pair from the system's secure generator (one per pairing).
    static func generate() -> PairingKeyPair {
        PairingKeyPair(privateKey: P256.KeyAgreement.PrivateKey())
    }

    /// A key pair from a private scalar given in wire order (tests, the specification's debug key).
    init(privateKeyWireOrder scalar: [UInt8]) throws {
        privateKey = try P256.KeyAgreement.PrivateKey(rawRepresentation: scalar.reversed())
    }

    init(privateKey: P256.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
    }

    /// X || Y in wire order, as the Pairing Public Key PDU carries it.
    var publicKey: [UInt8] {
        Self.wireForm(ofRaw: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The X coordinate in wire order (the `U`/`V` inputs of f4 and g2).
    var publicKeyX: [UInt8] { Array(publicKey.prefix(32)) }

    /// The DHKey (the shared X coordinate) in wire order, or nil when `peer` is not a point on
    /// P-256: an invalid key must fail the pairing (the "invalid curve" attack), never be used.
    func dhKey(peerPublicKey peer: [UInt8]) -> [UInt8]? {
        guard peer.count == 64 else { return nil }
        let raw = Array(peer.prefix(32).reversed()) + Array(peer.suffix(32).reversed())
        guard let key = try? P256.KeyAgreement.PublicKey(rawRepresentation: raw),
              let secret = try? privateKey.sharedSecretFromKeyAgreement(with: key)
        else { return nil }
        return secret.withUnsafeBytes { Array($0) }.reversed()
    }

    private static func wireForm(ofRaw raw: [UInt8]) -> [UInt8] {
        Array(raw.prefix(32).reversed()) + Array(raw.suffix(32).reversed())
    }
}
