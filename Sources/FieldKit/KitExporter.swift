import EdgeSystem
import Crypto
package import EdgeCore
package import FoundationEssentials
package import JSONQuery
package import Store

#if canImport(Glibc)
import Glibc
#endif

/// Writes a field kit from the store's unexported outbox rows (`fhir-edge export --to`).
///
/// Order, so that a kit is either whole or recognisably not: the NDJSON files, manifest.json,
/// then manifest.sig (import refuses a kit without it), each fsynced; then one store transaction
/// marks the rows exported and journals `kit.exported`. If that transaction fails the files are
/// removed and the rows stay unexported; a kit left behind anyway only carries rows the next
/// export carries again, which the server's deterministic ids make harmless.
package struct KitExporter: Sendable {
    package struct Options: Sendable {
        package var gateway: String
        package var recipient: Data?
        package var pseudonymiser: Pseudonymiser?
        package var clock: JSONObject
        package var actor: String
        /// Also carry unsent rows earlier kits carried (a kit that was lost on the way).
        package var includingCarried = false

        package init(gateway: String, recipient: Data?, pseudonymiser: Pseudonymiser?, clock: JSONObject, actor: String, includingCarried: Bool = false) {
            self.includingCarried = includingCarried
            self.gateway = gateway
            self.recipient = recipient
            self.pseudonymiser = pseudonymiser
            self.clock = clock
            self.actor = actor
        }
    }

    package let random: @Sendable (Int) -> [UInt8]
    package let now: @Sendable () -> Timestamp

    package init(random: @escaping @Sendable (Int) -> [UInt8], now: @escaping @Sendable () -> Timestamp) {
        self.random = random
        self.now = now
    }

    /// Writes the kit into `directory` (created; it must not exist or be empty) and returns its manifest.
    package func export(from store: Store, to directory: String, options: Options) async throws -> KitManifest {
        try Self.prepare(directory)
        let reader = store.reader
        let signingKey = try reader.kitSigningPublicKey()
        let sequence = try await reader.kitExportSequence() + 1
        let head = try await reader.journalHead()
        var rows: [KitRow] = []
        var after: OutboxID?
        while true {
            let page = try await reader.unexportedOutbox(after: after, limit: 500, includingCarried: options.includingCarried)
            guard let last = page.last else { break }
            rows += page
            after = last.id
        }
        let exportID = Hex.string(random(16))
        let exportedAt = now()
        var byType: [String: [String]] = [:]
        var effective: (from: Timestamp?, to: Timestamp?) = (nil, nil)
        for row in rows {
            var line = row.body
            let parsed = try? JSONValue(parsing: row.body)
            if let parsed {
                for time in Self.effectiveTimes(parsed) {
                    effective.from = min(effective.from ?? time, time)
                    effective.to = max(effective.to ?? time, time)
                }
                if let pseudonymiser = options.pseudonymiser { line = JSONWriter().string(pseudonymiser.apply(to: parsed)) }
            }
            byType[row.resourceType, default: []].append(line)
        }
        let cipher = try options.recipient.map {
            try KitCipher.sealing(for: .init(rawRepresentation: $0), random: random)
        }
        var files: [KitManifest.File] = []
        var written: [String] = []
        do {
            for type in byType.keys.sorted() {
                let lines = byType[type] ?? []
                let plain = Data(lines.map { $0 + "\n" }.joined().utf8)
                let name = type + (cipher == nil ? ".ndjson" : ".ndjson.sealed")
                let stored = try cipher.map { try $0.seal(plain, exportID: exportID, file: name, nonce: random(12)) } ?? plain
                let path = directory + "/" + name
                written.append(path)
                try Self.writeDurably(stored, to: path)
                files.append(KitManifest.File(type: type, url: name, count: lines.count, sha256: sha256Hex(stored), bytes: stored.count))
            }
            var journal: JSONObject = [:]
            if let head { journal = ["head": .int(head.sequence), "hash": .string(head.hash)] }
            if let key = try reader.journalPublicKey() { journal["publicKey"] = .string(key.base64EncodedString()) }
            let manifest = KitManifest(
                exportID: exportID, gateway: options.gateway, sequence: sequence, exportedAt: exportedAt, signingKey: signingKey, files: files,
                queuedFrom: rows.map(\.queuedAt).min(), queuedTo: rows.map(\.queuedAt).max(), effectiveFrom: effective.from, effectiveTo: effective.to,
                journal: journal, clock: options.clock,
                encryption: cipher.map { .init(scheme: KitCipher.scheme, recipient: $0.recipientPublicKey, ephemeralKey: $0.ephemeralPublicKey) },
                pseudonymKeyID: options.pseudonymiser?.keyID)
            let text = manifest.text
            written.append(directory + "/" + KitManifest.fileName)
            try Self.writeDurably(text, to: directory + "/" + KitManifest.fileName)
            let signature = try reader.kitSignature(for: KitManifest.signedStatement(text))
            written.append(directory + "/" + KitManifest.signatureFileName)
            try Self.writeDurably(Data((signature.base64EncodedString() + "\n").utf8), to: directory + "/" + KitManifest.signatureFileName)
            Self.syncDirectory(directory)
            // A research extract is not the kit's way home: its rows stay due for the next carry.
            let carried: [(id: OutboxID, sha256: String)] = options.pseudonymiser == nil ? rows.map { (id: $0.id, sha256: Store.sha256($0.body)) } : []
            var details: JSONObject = [
                "exportID": .string(exportID), "gateway": .string(options.gateway), "sequence": .int(sequence),
                "resources": .int(Int64(rows.count)), "encrypted": .bool(cipher != nil), "pseudonymised": .bool(options.pseudonymiser != nil),
                "includingCarried": .bool(options.includingCarried),
            ]
            if let from = manifest.queuedFrom, let to = manifest.queuedTo {
                details["queuedFrom"] = .string(from.iso8601)
                details["queuedTo"] = .string(to.iso8601)
            }
            if let first = rows.first?.id, let last = rows.last?.id {
                details["outboxFrom"] = .int(first.rawValue)
                details["outboxTo"] = .int(last.rawValue)
            }
            try await store.recordKitExport(sequence: sequence, rows: carried, details: details, actor: options.actor)
            return manifest
        } catch {
            for path in written { unlink(path) }
            throw error
        }
    }

    static func prepare(_ directory: String) throws(KitError) {
        if FileManager.default.fileExists(atPath: directory) {
            guard FilePaths.isDirectory(directory) else { throw KitError(directory, "exists and is not a directory") }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard contents.filter({ !$0.hasPrefix(".") }).isEmpty else {
                throw KitError(directory, "is not empty; write each export into a new or empty directory")
            }
        } else {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw KitError(directory, "cannot be created (\(SystemErrorText.reason(error)))")
            }
        }
    }

    /// `effectiveDateTime`, `effectiveInstant` and `effectivePeriod` start and end.
    static func effectiveTimes(_ resource: JSONValue) -> [Timestamp] {
        [resource["effectiveDateTime"], resource["effectiveInstant"], resource["effectivePeriod"]?["start"], resource["effectivePeriod"]?["end"]]
            .compactMap { $0?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:)) }
    }

    static func writeDurably(_ data: Data, to path: String) throws(KitError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw KitError(path, "cannot be created (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var offset = 0
        while offset < data.count {
            let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw KitError(path, "could not be written completely (\(String(cString: strerror(errno))))") }
            offset += written
        }
        guard fsync(fd) == 0 else { throw KitError(path, "could not be flushed to the device (\(String(cString: strerror(errno))))") }
    }

    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
