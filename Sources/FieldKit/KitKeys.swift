import EdgeCore
package import Crypto
package import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The key files of field kits: one line each, a label naming what the key is and its raw
/// bytes in base64, so a recipient key can never be mistaken for an identity or a signing key.
///
/// - `fhir-edge kit identity v1 <base64>`: a recipient's X25519 private key (0600), for `import --identity`.
/// - `fhir-edge kit recipient v1 <base64>`: its public half, for `export --recipient`.
/// - `fhir-edge kit signing key v1 <base64>`: a gateway's Ed25519 kit signing public key, to pin with `--trust`.
package enum KitKeyFile {
    package static let identityLabel = "fhir-edge kit identity v1"
    package static let recipientLabel = "fhir-edge kit recipient v1"
    package static let signingLabel = "fhir-edge kit signing key v1"

    /// A recipient key pair's two files: `path` (private, 0600) and `path.pub`. Refuses to
    /// overwrite either.
    package static func generate(at path: String, random: @Sendable (Int) -> [UInt8]) throws(KitError) -> (privatePath: String, publicPath: String) {
        let publicPath = path + ".pub"
        for file in [path, publicPath] where FileManager.default.fileExists(atPath: file) {
            throw KitError(file, "already exists; choose another --out or remove it first (a lost identity cannot open the kits made for it)")
        }
        let key: Curve25519.KeyAgreement.PrivateKey
        do {
            key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: random(32))
        } catch {
            throw KitError(path, "could not make an X25519 key")
        }
        try write(identityLabel + " " + key.rawRepresentation.base64EncodedString() + "\n", to: path, mode: 0o600)
        try write(recipientLabel + " " + key.publicKey.rawRepresentation.base64EncodedString() + "\n", to: publicPath, mode: 0o644)
        return (path, publicPath)
    }

    package static func readRecipient(_ path: String) throws(KitError) -> Curve25519.KeyAgreement.PublicKey {
        let bytes = try read(path, label: recipientLabel)
        do { return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes) } catch {
            throw KitError(path, "not an X25519 public key")
        }
    }

    /// A recipient's private key; the file must not be readable by group or others.
    package static func readIdentity(_ path: String) throws(KitError) -> Curve25519.KeyAgreement.PrivateKey {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            throw KitError(path, "the identity file is accessible to group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        let bytes = try read(path, label: identityLabel)
        do { return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes) } catch {
            throw KitError(path, "not an X25519 private key")
        }
    }

    /// A pinned signing public key (32 bytes).
    package static func readSigningKey(_ path: String) throws(KitError) -> Data {
        let bytes = try read(path, label: signingLabel)
        guard bytes.count == 32 else { throw KitError(path, "not an Ed25519 public key (\(bytes.count) bytes)") }
        return bytes
    }

    package static func signingKeyText(_ publicKey: Data) -> String {
        signingLabel + " " + publicKey.base64EncodedString() + "\n"
    }

    static func read(_ path: String, label: String) throws(KitError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw KitError(path, "cannot be read (missing, or no permission)") }
        let text = String(decoding: data, as: UTF8.self).trimmingWhitespace
        guard text.hasPrefix(label + " ") else {
            let other = [identityLabel, recipientLabel, signingLabel].first { text.hasPrefix($0 + " ") }
            throw KitError(path, other.map { "is a \"\($0)\" file, expected \"\(label)\"" } ?? "not a fhir-edge kit key file (expected \"\(label) ...\")")
        }
        guard let bytes = Data(base64Encoded: String(text.dropFirst(label.count + 1))) else {
            throw KitError(path, "the key is not valid base64")
        }
        return bytes
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws(KitError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw KitError(path, "cannot be created (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw KitError(path, "could not be written completely") }
    }
}
