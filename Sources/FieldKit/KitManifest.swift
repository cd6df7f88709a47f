import Crypto
package import EdgeCore
package import FoundationEssentials
package import JSONQuery

/// A field kit's manifest (`manifest.json`): the FHIR Bulk Data `$export` manifest layout
/// (`transactionTime`, `request`, `requiresAccessToken`, `output`, `error`), with fhir-edge's
/// own fields under `extension.fhir-edge`. It is signed as written: `manifest.sig` holds the
/// base64 Ed25519 signature over `"fhir-edge kit manifest v1\n"` followed by manifest.json's bytes.
package struct KitManifest: Sendable, Equatable {
    package static let format = "fhir-edge field kit v1"
    package static let fileName = "manifest.json"
    package static let signatureFileName = "manifest.sig"

    package struct File: Sendable, Equatable {
        package var type: String
        /// The file's name inside the kit.
        package var url: String
        package var count: Int
        /// SHA-256 (hex) of the file's bytes as stored (sealed, when encrypted).
        package var sha256: String
        package var bytes: Int

        package init(type: String, url: String, count: Int, sha256: String, bytes: Int) {
            self.type = type
            self.url = url
            self.count = count
            self.sha256 = sha256
            self.bytes = bytes
        }
    }

    package struct Encryption: Sendable, Equatable {
        package var scheme: String
        package var recipient: Data
        package var ephemeralKey: Data
    }

    package var exportID: String
    package var gateway: String
    package var sequence: Int64
    package var exportedAt: Timestamp
    /// The kit's signing key (Ed25519 public, 32 bytes).
    package var signingKey: Data
    package var files: [File]
    /// When the resources entered the kit's outbox, by its clock (nil for an empty export).
    package var queuedFrom: Timestamp?
    package var queuedTo: Timestamp?
    /// The earliest and latest effective times the resources carry (device time, as recorded).
    package var effectiveFrom: Timestamp?
    package var effectiveTo: Timestamp?
    /// The journal's head when the export was read: sequence, hash and the journal's public key.
    package var journal: JSONObject
    /// How far the kit's times can be trusted (`KitClockReport`).
    package var clock: JSONObject
    package var encryption: Encryption?
    /// The pseudonymisation key's id when identifiers were replaced by keyed hashes.
    package var pseudonymKeyID: String?

    package var resourceCount: Int { files.reduce(0) { $0 + $1.count } }

    package init(exportID: String, gateway: String, sequence: Int64, exportedAt: Timestamp, signingKey: Data, files: [File],
                queuedFrom: Timestamp?, queuedTo: Timestamp?, effectiveFrom: Timestamp?, effectiveTo: Timestamp?,
                journal: JSONObject, clock: JSONObject, encryption: Encryption?, pseudonymKeyID: String?) {
        self.exportID = exportID
        self.gateway = gateway
        self.sequence = sequence
        self.exportedAt = exportedAt
        self.signingKey = signingKey
        self.files = files
        self.queuedFrom = queuedFrom
        self.queuedTo = queuedTo
        self.effectiveFrom = effectiveFrom
        self.effectiveTo = effectiveTo
        self.journal = journal
        self.clock = clock
        self.encryption = encryption
        self.pseudonymKeyID = pseudonymKeyID
    }

    package var json: JSONValue {
        var own: JSONObject = [
            "format": .string(Self.format), "exportID": .string(exportID), "gateway": .string(gateway), "sequence": .int(sequence),
            "signingKey": .string(signingKey.base64EncodedString()), "resources": .int(Int64(resourceCount)),
        ]
        var range = JSONObject()
        for (name, value) in [("queuedFrom", queuedFrom), ("queuedTo", queuedTo), ("effectiveFrom", effectiveFrom), ("effectiveTo", effectiveTo)] {
            if let value { range[name] = .string(value.iso8601) }
        }
        own["range"] = .object(range)
        own["files"] = .array(files.map { file in
            JSONValue.object(["type": .string(file.type), "url": .string(file.url), "count": .int(Int64(file.count)),
                     "sha256": .string(file.sha256), "bytes": .int(Int64(file.bytes))])
        })
        own["journal"] = .object(journal)
        own["clock"] = .object(clock)
        if let encryption {
            own["encryption"] = .object(["scheme": .string(encryption.scheme), "recipient": .string(encryption.recipient.base64EncodedString()),
                                         "ephemeralKey": .string(encryption.ephemeralKey.base64EncodedString())])
        } else {
            own["encryption"] = .null
        }
        own["pseudonymised"] = pseudonymKeyID.map { JSONValue.object(["scheme": .string(Pseudonymiser.scheme), "keyID": .string($0)]) } ?? .bool(false)
        return .object([
            "transactionTime": .string(exportedAt.iso8601),
            "request": .string("fhir-edge export --to"),
            "requiresAccessToken": .bool(false),
            "output": .array(files.map { JSONValue.object(["type": .string($0.type), "url": .string($0.url), "count": .int(Int64($0.count))]) }),
            "error": .array([]),
            "extension": .object(["fhir-edge": .object(own)]),
        ])
    }

    /// The bytes written to manifest.json.
    package var text: Data { Data((JSONWriter(options: [.pretty]).string(json) + "\n").utf8) }

    static func signedStatement(_ manifest: Data) -> Data { Data("fhir-edge kit manifest v1\n".utf8) + manifest }

    /// Reads manifest.json's bytes; every failure names the member and why.
    package init(parsing data: Data, location: String) throws(KitError) {
        let root: JSONValue
        do { root = try JSONValue(parsing: Array(data)) } catch { throw KitError(location, "not valid JSON (\(error))") }
        guard let own = root["extension"]?["fhir-edge"]?.objectValue else {
            throw KitError(location, "no extension.fhir-edge member: not a fhir-edge field kit manifest")
        }
        func string(_ key: String) throws(KitError) -> String {
            guard let value = own[key]?.stringValue, !value.isEmpty else { throw KitError(location, "extension.fhir-edge.\(key) is missing or not a string") }
            return value
        }
        func int(_ key: String, in object: JSONObject, path: String) throws(KitError) -> Int64 {
            guard case .int(let value)? = object[key] else { throw KitError(location, "\(path).\(key) is missing or not an integer") }
            return value
        }
        func base64(_ text: String, _ path: String) throws(KitError) -> Data {
            guard let data = Data(base64Encoded: text) else { throw KitError(location, "\(path) is not base64") }
            return data
        }
        guard try string("format") == Self.format else {
            throw KitError(location, "extension.fhir-edge.format is \"\(own["format"]?.stringValue ?? "")\", this version reads \"\(Self.format)\"")
        }
        exportID = try string("exportID")
        gateway = try string("gateway")
        sequence = try int("sequence", in: own, path: "extension.fhir-edge")
        signingKey = try base64(try string("signingKey"), "extension.fhir-edge.signingKey")
        guard let time = root["transactionTime"]?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:)) else {
            throw KitError(location, "transactionTime is missing or not an instant")
        }
        exportedAt = time
        guard let fileList = own["files"]?.arrayValue else { throw KitError(location, "extension.fhir-edge.files is missing") }
        var files: [File] = []
        for (index, value) in fileList.enumerated() {
            let path = "extension.fhir-edge.files[\(index)]"
            guard let object = value.objectValue, let type = object["type"]?.stringValue, let url = object["url"]?.stringValue,
                  let sha = object["sha256"]?.stringValue else { throw KitError(location, "\(path) lacks type, url or sha256") }
            // A name, never a path: a manifest must not make import read outside the kit.
            guard !url.isEmpty, !url.contains("/"), !url.hasPrefix("."), url != Self.fileName, url != Self.signatureFileName else {
                throw KitError(location, "\(path).url \"\(url)\" is not a plain file name inside the kit")
            }
            files.append(File(type: type, url: url, count: Int(try int("count", in: object, path: path)), sha256: sha,
                              bytes: Int(try int("bytes", in: object, path: path))))
        }
        guard Set(files.map(\.url)).count == files.count else { throw KitError(location, "extension.fhir-edge.files names a file twice") }
        self.files = files
        let range = own["range"]?.objectValue ?? JSONObject()
        func instant(_ key: String) -> Timestamp? { range[key]?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:)) }
        queuedFrom = instant("queuedFrom")
        queuedTo = instant("queuedTo")
        effectiveFrom = instant("effectiveFrom")
        effectiveTo = instant("effectiveTo")
        journal = own["journal"]?.objectValue ?? JSONObject()
        clock = own["clock"]?.objectValue ?? JSONObject()
        if let object = own["encryption"]?.objectValue {
            guard let scheme = object["scheme"]?.stringValue, let recipient = object["recipient"]?.stringValue,
                  let ephemeral = object["ephemeralKey"]?.stringValue else {
                throw KitError(location, "extension.fhir-edge.encryption lacks scheme, recipient or ephemeralKey")
            }
            encryption = Encryption(scheme: scheme, recipient: try base64(recipient, "encryption.recipient"),
                                    ephemeralKey: try base64(ephemeral, "encryption.ephemeralKey"))
        } else {
            encryption = nil
        }
        pseudonymKeyID = own["pseudonymised"]?["keyID"]?.stringValue
        guard let total = own["resources"], case .int(let count) = total, count == Int64(resourceCount) else {
            throw KitError(location, "extension.fhir-edge.resources does not equal the files' counts added up")
        }
    }

    /// Whether `signature` is `signingKey`'s over these manifest bytes.
    package static func isSigned(_ manifest: Data, signature: Data, by publicKey: Data) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: signedStatement(manifest))
    }
}

/// Lowercase hex SHA-256 of bytes.
func sha256Hex(_ data: Data) -> String {
    Hex.string(SHA256.hash(data: data))
}
