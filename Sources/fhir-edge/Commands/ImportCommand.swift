import ArgumentParser
import Audit
import EdgeCore
import EdgeSystem
import FieldKit
import FoundationEssentials
import Gateway
import JSONQuery
import Store

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a field kit and queue its resources for upload from this gateway.",
        discussion: """
            Checks the whole kit before taking anything (docs/field-kits.md): the manifest's signature \
            (by the key pinned for its gateway on the first import, or the one given with --trust), \
            each file's size, SHA-256 and resource count, that no kit file is missing or extra, and that \
            this export is newer than any imported from that gateway. Then, in one transaction, the \
            resources enter this store's outbox (uploaded exactly once: their ids are the kit's) and \
            the import is journaled as kit.imported. Writes a signed acknowledgement (default: \
            DIR/acknowledgement-SEQUENCE.json) for `fhir-edge reconcile` on the kit.

            Exits 0 when imported, 1 when the kit is refused (nothing is imported then), 2 when the \
            store or a key cannot be used. A store that does not exist yet is created, with a key \
            file beside it, as the daemon would.
            """)

    @Argument(help: "The kit's directory.")
    var directory: String

    @Option(name: .long, help: "The recipient private key file the kit was encrypted for (fhir-edge keygen).")
    var identity: String?

    @Option(name: .long, help: "Only take a kit signed by this key file (fhir-edge export-key on the kit).")
    var trust: String?

    @Option(name: .long, help: "Where to write the acknowledgement (default: inside the kit's directory).")
    var ack: String?

    @Option(name: .customLong("gateway-id"), help: "This gateway's name in the acknowledgement (default: the host name).")
    var gatewayID: String?

    @OptionGroup var location: StoreLocation

    func run() async throws {
        try await runningKitCommand(refusal: "import refused: ") {
            let identityKey = try identity.map { path in try usableKeyFile { try KitKeyFile.readIdentity(path) } }
            let trusted = try trust.map { path in try usableKeyFile { try KitKeyFile.readSigningKey(path) } }
            // Everything in the kit is checked before the store is touched.
            let verified: KitVerifier.Verified
            do throws(KitError) {
                verified = try KitVerifier().verify(directory, identity: identityKey, trustedKey: trusted)
            } catch {
                throw KitError(error.location, error.reason + "; nothing imported")
            }
            let manifest = verified.manifest
            let store = try openStore()
            defer { try? store.close() }
            let sourceKey = manifest.signingKey.base64EncodedString()
            let imported = try await store.reader.kitImportedSequences(sourceKey: sourceKey)
            // Skipped exports; a replay or an older export is refused in the import's transaction.
            let missing = imported.last.map { last in last + 1 < manifest.sequence ? Array((last + 1)..<manifest.sequence) : [] } ?? []
            var details: JSONObject = [
                "exportID": .string(manifest.exportID), "gateway": .string(manifest.gateway), "sequence": .int(manifest.sequence),
                "resources": .int(Int64(verified.resources.count)), "signingKey": .string(KitVerifier.fingerprint(manifest.signingKey)),
                "manifestSHA256": .string(Store.sha256(String(decoding: FileManager.default.contents(atPath: directory + "/" + KitManifest.fileName) ?? Data(), as: UTF8.self))),
                "encrypted": .bool(manifest.encryption != nil),
            ]
            if let head = manifest.journal["head"] { details["sourceJournalHead"] = head }
            if let trust = manifest.clock["trust"] { details["sourceClock"] = trust }
            if !missing.isEmpty { details["missingSequences"] = .array(missing.map(JSONValue.int)) }
            do {
                _ = try await store.importKit(
                    KitImport(sourceKey: sourceKey, gateway: manifest.gateway, sequence: manifest.sequence, exportID: manifest.exportID,
                              resources: verified.resources, details: details),
                    actor: OperatorSession.actor)
            } catch let error as StoreError where error.code == .kitRefused {
                throw KitError(error.location ?? directory, error.message)
            }
            print("imported kit \(manifest.sequence) (\(manifest.exportID)) of gateway \(manifest.gateway): \(verified.resources.count) resource(s) queued for upload")
            if !missing.isEmpty {
                standardError("fhir-edge: warning: export(s) \(missing.map(String.init).joined(separator: ", ")) of gateway \(manifest.gateway) were never imported here; "
                    + "they cannot be imported after this one, so have the kit export again what they carried")
            }
            try writeAcknowledgement(verified, store: store)
        }
    }

    private func openStore() throws -> Store {
        let path = try location.storePath()
        var encryption = try location.encryption(forStore: path)
        if encryption == nil, !FileManager.default.fileExists(atPath: path), try location.flaggedKeySource() == nil {
            // A gateway that never ran here: a new store, encrypted as the daemon would make it.
            try FileManager.default.createDirectory(atPath: FilePaths.directory(of: path), withIntermediateDirectories: true)
            let keyFile = GatewayConfiguration.defaultKeyFile(forStore: path)
            do {
                try StoreKeySource.createKeyFile(at: keyFile)
                encryption = StoreEncryption(keyEncryptionKey: try StoreKeySource.file(keyFile).load())
            } catch {
                throw UsageFailure(error.description)
            }
        }
        do {
            return try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock, encryption: encryption)
        } catch {
            throw UsageFailure(error.description)
        }
    }

    private func writeAcknowledgement(_ verified: KitVerifier.Verified, store: Store) throws {
        let path = ack ?? directory + "/acknowledgement-\(verified.manifest.sequence).json"
        let importerKey: Data
        do {
            importerKey = try store.reader.kitSigningPublicKey()
        } catch {
            standardError("fhir-edge: warning: no acknowledgement written: \(error.message)")
            return
        }
        let acknowledgement = KitAcknowledgement(
            manifest: verified.manifest, resources: verified.resources.map { ($0.resourceType, $0.resourceID, $0.body) },
            importedBy: gatewayID ?? ProcessInfo.processInfo.hostName, importerKey: importerKey, importedAt: Store.systemClock())
        let text = acknowledgement.text
        let signature = try store.reader.kitSignature(for: KitAcknowledgement.signedStatement(text))
        do {
            try text.write(to: URL(fileURLWithPath: path), options: .atomic)
            try Data((signature.base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: path + ".sig"), options: .atomic)
        } catch {
            standardError("fhir-edge: warning: the import is done, but the acknowledgement could not be written to \(path) (\(SystemErrorText.reason(error))); "
                + "pass --ack FILE next time; importing again is refused as a replay")
            return
        }
        print("acknowledgement: \(path) (reconcile it on the kit with `fhir-edge reconcile`)")
    }
}
