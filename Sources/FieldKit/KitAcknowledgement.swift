import Crypto
package import EdgeCore
package import FoundationEssentials
import JSONQuery

/// What an importing gateway took from a field kit (`import` writes it, `reconcile` on the kit
/// reads it): the export, who took it, and each resource's type, id and the SHA-256 of the body
/// taken. Signed like a manifest by the importer's kit signing key: the `.sig` file beside it
/// holds the base64 Ed25519 signature over `"fhir-edge kit acknowledgement v1\n"` and the file's bytes.
package struct KitAcknowledgement: Sendable, Equatable {
    package static let format = "fhir-edge kit acknowledgement v1"

    package struct Entry: Sendable, Equatable {
        package var type: String
        package var id: String
        package var sha256: String
    }

    package var exportID: String
    package var sequence: Int64
    /// The exporting gateway and its kit signing key.
    package var gateway: String
    package var gatewayKey: Data
    package var importedBy: String
    package var importerKey: Data
    package var importedAt: Timestamp
    package var entries: [Entry]

    package init(manifest: KitManifest, resources: [(type: String, id: String, body: String)], importedBy: String, importerKey: Data, importedAt: Timestamp) {
        exportID = manifest.exportID
        sequence = manifest.sequence
        gateway = manifest.gateway
        gatewayKey = manifest.signingKey
        self.importedBy = importedBy
        self.importerKey = importerKey
        self.importedAt = importedAt
        entries = resources.map { Entry(type: $0.type, id: $0.id, sha256: sha256Hex(Data($0.body.utf8))) }
    }

    package var text: Data {
        let json: JSONValue = .object([
            "format": .string(Self.format), "exportID": .string(exportID), "sequence": .int(sequence), "gateway": .string(gateway),
            "gatewayKey": .string(gatewayKey.base64EncodedString()), "importedBy": .string(importedBy),
            "importerKey": .string(importerKey.base64EncodedString()), "importedAt": .string(importedAt.iso8601),
            "count": .int(Int64(entries.count)),
            "resources": .array(entries.map { .object(["type": .string($0.type), "id": .string($0.id), "sha256": .string($0.sha256)]) }),
        ])
        return Data((JSONWriter().string(json) + "\n").utf8)
    }

    package static func signedStatement(_ text: Data) -> Data { Data("fhir-edge kit acknowledgement v1\n".utf8) + text }

    /// Reads an acknowledgement and its `.sig`, checking the signature by the key inside it and,
    /// when given, that this key is the trusted one.
    package init(file path: String, trustedKey: Data?) throws(KitError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw KitError(path, "cannot be read (missing, or no permission)") }
        guard let signatureText = FileManager.default.contents(atPath: path + ".sig"),
              let signature = Data(base64Encoded: String(decoding: signatureText, as: UTF8.self).trimmingWhitespace) else {
            throw KitError(path + ".sig", "missing or not base64: an acknowledgement is only taken signed")
        }
        let root: JSONValue
        do { root = try JSONValue(parsing: Array(data)) } catch { throw KitError(path, "not valid JSON (\(error))") }
        guard root["format"]?.stringValue == Self.format else { throw KitError(path, "not a \(Self.format) file") }
        guard let exportID = root["exportID"]?.stringValue, case .int(let sequence)? = root["sequence"],
              let gateway = root["gateway"]?.stringValue, let gatewayKey = root["gatewayKey"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
              let importedBy = root["importedBy"]?.stringValue, let importerKey = root["importerKey"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
              let importedAt = root["importedAt"]?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:)),
              let list = root["resources"]?.arrayValue else {
            throw KitError(path, "lacks exportID, sequence, gateway, gatewayKey, importedBy, importerKey, importedAt or resources")
        }
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: importerKey),
              key.isValidSignature(signature, for: Self.signedStatement(data)) else {
            throw KitError(path + ".sig", "the signature does not verify: the acknowledgement was altered or signed by another key")
        }
        if let trustedKey, trustedKey != importerKey {
            throw KitError(path, "signed by key \(KitVerifier.fingerprint(importerKey)), not the trusted key \(KitVerifier.fingerprint(trustedKey)) given with --trust")
        }
        var entries: [Entry] = []
        for (index, value) in list.enumerated() {
            guard let type = value["type"]?.stringValue, let id = value["id"]?.stringValue, let sha = value["sha256"]?.stringValue else {
                throw KitError(path, "resources[\(index)] lacks type, id or sha256")
            }
            entries.append(Entry(type: type, id: id, sha256: sha))
        }
        self.exportID = exportID
        self.sequence = sequence
        self.gateway = gateway
        self.gatewayKey = gatewayKey
        self.importedBy = importedBy
        self.importerKey = importerKey
        self.importedAt = importedAt
        self.entries = entries
    }
}
