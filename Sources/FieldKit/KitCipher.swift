package import Crypto
package import FoundationEssentials

/// Sealing kit files for one recipient: `X25519(ephemeral, recipient)` gives the shared secret;
/// each file's key is `HKDF-SHA256(secret, salt: ephemeral public ‖ recipient public, info:
/// "fhir-edge kit v1|<export id>|<file name>", 32 bytes)`; the file is ChaCha20-Poly1305's
/// combined form (12-byte nonce ‖ ciphertext ‖ 16-byte tag) with the same info string as
/// associated data. One ephemeral key per export, one key per file, so a file cannot be moved to
/// another name or export and still open.
package struct KitCipher: Sendable {
    package static let scheme = "X25519-HKDF-SHA256-ChaCha20Poly1305"

    /// The X25519 shared secret's bytes, as HKDF's input.
    let secret: SymmetricKey
    let salt: Data
    package let ephemeralPublicKey: Data
    package let recipientPublicKey: Data

    /// The sender's side: a fresh ephemeral key from `random`.
    package static func sealing(for recipient: Curve25519.KeyAgreement.PublicKey, random: (Int) -> [UInt8]) throws -> KitCipher {
        let ephemeral = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: random(32))
        let secret = try ephemeral.sharedSecretFromKeyAgreement(with: recipient)
        return KitCipher(secret: secret, ephemeral: ephemeral.publicKey.rawRepresentation, recipient: recipient.rawRepresentation)
    }

    /// The recipient's side, from the manifest's ephemeral key.
    package static func opening(with identity: Curve25519.KeyAgreement.PrivateKey, ephemeralPublicKey: Data) throws -> KitCipher {
        let ephemeral = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: ephemeralPublicKey)
        let secret = try identity.sharedSecretFromKeyAgreement(with: ephemeral)
        return KitCipher(secret: secret, ephemeral: ephemeralPublicKey, recipient: identity.publicKey.rawRepresentation)
    }

    private init(secret: SharedSecret, ephemeral: Data, recipient: Data) {
        self.secret = secret.withUnsafeBytes { SymmetricKey(data: Data($0)) }
        self.ephemeralPublicKey = ephemeral
        self.recipientPublicKey = recipient
        self.salt = ephemeral + recipient
    }

    static func context(exportID: String, file: String) -> Data {
        Data("fhir-edge kit v1|\(exportID)|\(file)".utf8)
    }

    func key(exportID: String, file: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: secret, salt: salt, info: Self.context(exportID: exportID, file: file), outputByteCount: 32)
    }

    package func seal(_ plaintext: Data, exportID: String, file: String, nonce: [UInt8]) throws -> Data {
        let box = try ChaChaPoly.seal(plaintext, using: key(exportID: exportID, file: file), nonce: ChaChaPoly.Nonce(data: nonce),
                                      authenticating: Self.context(exportID: exportID, file: file))
        return box.combined
    }

    /// The plaintext, or nil when the file does not authenticate (another recipient, altered, moved).
    package func open(_ sealed: Data, exportID: String, file: String) -> Data? {
        guard let box = try? ChaChaPoly.SealedBox(combined: sealed) else { return nil }
        return try? ChaChaPoly.open(box, using: key(exportID: exportID, file: file), authenticating: Self.context(exportID: exportID, file: file))
    }
}
