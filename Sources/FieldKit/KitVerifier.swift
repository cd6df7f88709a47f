import EdgeCore
package import Crypto
package import FoundationEssentials
import JSONQuery
package import Store

/// Reads a field kit and checks all of it before anything is taken: the signature over the
/// manifest (and, when given, that it is the pinned key), that every file the manifest names is
/// there with its size and SHA-256, that no kit file is there that it does not name, that each
/// sealed file opens for this identity, and that each file holds as many resources of its type
/// as the manifest says. The first failure is thrown, naming the file and why.
package struct KitVerifier: Sendable {
    package struct Verified: Sendable {
        package var manifest: KitManifest
        /// The resources to queue, in the kit's order, with the identity the outbox keys them by.
        package var resources: [OutboxResource]
    }

    package init() {}

    package func verify(_ directory: String, identity: Curve25519.KeyAgreement.PrivateKey?, trustedKey: Data?) throws(KitError) -> Verified {
        let manifestPath = directory + "/" + KitManifest.fileName
        let signaturePath = directory + "/" + KitManifest.signatureFileName
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw KitError(manifestPath, "missing: not a field kit, or an incomplete copy of one")
        }
        guard let signatureData = FileManager.default.contents(atPath: signaturePath) else {
            throw KitError(signaturePath, "missing: the export was not finished or the copy is incomplete")
        }
        let manifest = try KitManifest(parsing: manifestData, location: manifestPath)
        guard let signature = Data(base64Encoded: String(decoding: signatureData, as: UTF8.self).trimmingWhitespace),
              KitManifest.isSigned(manifestData, signature: signature, by: manifest.signingKey) else {
            throw KitError(signaturePath, "the signature does not verify over manifest.json: the manifest was altered or signed by another key")
        }
        if let trustedKey, trustedKey != manifest.signingKey {
            throw KitError(manifestPath, "signed by key \(Self.fingerprint(manifest.signingKey)), not the trusted key \(Self.fingerprint(trustedKey)) given with --trust")
        }
        if manifest.pseudonymKeyID != nil {
            throw KitError(manifestPath, "a pseudonymised research extract: its identifiers are keyed hashes and must not go to a clinical server")
        }
        let named = Set(manifest.files.map(\.url))
        let present = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in present.sorted() where (name.hasSuffix(".ndjson") || name.hasSuffix(".sealed")) && !named.contains(name) {
            throw KitError(directory + "/" + name, "not named in the manifest: the kit was altered or mixed with another")
        }
        var cipher: KitCipher?
        if let encryption = manifest.encryption {
            guard encryption.scheme == KitCipher.scheme else {
                throw KitError(manifestPath, "encrypted with \(encryption.scheme), this version opens \(KitCipher.scheme)")
            }
            guard let identity else {
                throw KitError(manifestPath, "encrypted for recipient \(Self.fingerprint(encryption.recipient)); pass its key with --identity")
            }
            guard identity.publicKey.rawRepresentation == encryption.recipient else {
                throw KitError(manifestPath, "encrypted for recipient \(Self.fingerprint(encryption.recipient)), "
                    + "but --identity is recipient \(Self.fingerprint(identity.publicKey.rawRepresentation)): wrong key")
            }
            do { cipher = try KitCipher.opening(with: identity, ephemeralPublicKey: encryption.ephemeralKey) } catch {
                throw KitError(manifestPath, "encryption.ephemeralKey is not an X25519 public key")
            }
        }
        var resources: [OutboxResource] = []
        for file in manifest.files {
            let path = directory + "/" + file.url
            guard let stored = FileManager.default.contents(atPath: path) else {
                throw KitError(path, "missing: the manifest names it with \(file.count) resource(s)")
            }
            guard stored.count == file.bytes else {
                throw KitError(path, "\(stored.count) bytes, the manifest says \(file.bytes): truncated or altered")
            }
            guard sha256Hex(stored) == file.sha256 else { throw KitError(path, "its SHA-256 differs from the manifest's: the file was altered") }
            var plain = stored
            if let cipher {
                guard let opened = cipher.open(stored, exportID: manifest.exportID, file: file.url) else {
                    throw KitError(path, "does not decrypt with this identity (altered, or sealed for another recipient)")
                }
                plain = opened
            }
            let lines = plain.split(separator: 0x0A, omittingEmptySubsequences: true)
            guard lines.count == file.count else {
                throw KitError(path, "holds \(lines.count) resource(s), the manifest says \(file.count)")
            }
            for (index, line) in lines.enumerated() {
                let place = "\(path) line \(index + 1)"
                guard let resource = try? JSONValue(parsing: Array(line)) else { throw KitError(place, "not a JSON resource") }
                guard resource["resourceType"]?.stringValue == file.type else { throw KitError(place, "not a \(file.type) resource") }
                guard let id = resource["id"]?.stringValue, !id.isEmpty else { throw KitError(place, "has no id, so it could not be uploaded exactly once") }
                resources.append(OutboxResource(inboxID: nil, resourceType: file.type, resourceID: id, identityKey: Self.identity(of: resource, type: file.type, id: id),
                                                body: String(decoding: line, as: UTF8.self)))
            }
        }
        return Verified(manifest: manifest, resources: resources)
    }

    /// The identity the mapping gives: an Observation's first identifier (`system|value`),
    /// otherwise `Type/id`.
    static func identity(of resource: JSONValue, type: String, id: String) -> String {
        if type == "Observation", let first = resource["identifier"]?.arrayValue?.first {
            return (first["system"]?.stringValue ?? "") + "|" + (first["value"]?.stringValue ?? "")
        }
        return type + "/" + id
    }

    /// A short public name of a key: the first 8 bytes of its SHA-256, hex.
    package static func fingerprint(_ key: Data) -> String {
        String(sha256Hex(key).prefix(16))
    }
}
