import Crypto

/// One side's P-256 key pair for LE Secure Connections, with the public key in SMP's wire form:
/// X then Y, each 32 octets least significant first.
struct PairingKeyPair: Sendable {
    let privateKey: P256.KeyAgreement.PrivateKey

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
