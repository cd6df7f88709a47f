import Audit
import Crypto
import EdgeCore
import FieldKit
import Foundation
import JSONQuery
import Store
import XCTest

/// Export, verify, import and reconcile through the store, without the command line: what each
/// export carries, what import refuses, and what an acknowledgement marks.
final class KitRoundTripTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("kit-roundtrip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    func openStore(_ name: String) throws -> Store {
        let key = try KeyEncryptionKey(material: Array(KeyEncryptionKey.newKeyText().utf8), source: name)
        return try Store(path: work.appendingPathComponent("\(name).sqlite").path, policy: .standard, chain: AuditChain(),
                         now: Store.systemClock, encryption: StoreEncryption(keyEncryptionKey: key))
    }

    static func reading(_ n: Int) -> OutboxResource {
        let body = #"{"resourceType":"Observation","id":"obs-\#(n)","identifier":[{"system":"urn:test","value":"r-\#(n)"}],"status":"final","effectiveDateTime":"2026-11-27T10:00:\#(String(format: "%02d", n % 60))Z"}"#
        return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-\(n)", identityKey: "urn:test|r-\(n)", body: body)
    }

    func export(_ store: Store, _ name: String, recipient: Data? = nil) async throws -> KitManifest {
        let options = KitExporter.Options(gateway: "kit-a", recipient: recipient, pseudonymiser: nil, clock: ["trust": .string("unknown")], actor: "test")
        return try await KitExporter(random: KitFormatTests.random, now: Store.systemClock)
            .export(from: store, to: work.appendingPathComponent(name).path, options: options)
    }

    func testEachExportCarriesWhatNoEarlierOneDidAndImportTakesEachOnce() async throws {
        let kit = try openStore("a")
        defer { try? kit.close() }
        let home = try openStore("b")
        defer { try? home.close() }
        let identity = Curve25519.KeyAgreement.PrivateKey()
        try await kit.enqueue((1...5).map(Self.reading), actor: "test")

        let first = try await export(kit, "kit1", recipient: identity.publicKey.rawRepresentation)
        XCTAssertEqual(first.sequence, 1)
        XCTAssertEqual(first.resourceCount, 5)
        XCTAssertEqual(first.effectiveFrom, Timestamp(parsingISO8601Lenient: "2026-11-27T10:00:01Z"))
        XCTAssertEqual(first.files.map(\.url), ["Observation.ndjson.sealed"])
        XCTAssertEqual(first.signingKey, try kit.reader.kitSigningPublicKey())

        try await kit.enqueue((6...7).map(Self.reading), actor: "test")
        // A newer body of an exported reading goes with the next export too.
        var amended = Self.reading(2)
        amended.body = amended.body.replacingOccurrences(of: "\"final\"", with: "\"amended\"")
        try await kit.enqueue([amended], actor: "test")
        let second = try await export(kit, "kit2")
        XCTAssertEqual(second.sequence, 2)
        XCTAssertEqual(second.resourceCount, 3, "readings 6 and 7 and the amended reading 2")
        let empty = try await export(kit, "kit3")
        XCTAssertEqual(empty.resourceCount, 0)

        XCTAssertThrowsError(try KitVerifier().verify(work.appendingPathComponent("kit1").path, identity: nil, trustedKey: nil)) { error in
            XCTAssertTrue("\(error)".contains("pass its key with --identity"), "\(error)")
        }
        let verified = try KitVerifier().verify(work.appendingPathComponent("kit1").path, identity: identity, trustedKey: first.signingKey)
        XCTAssertEqual(verified.resources.map(\.resourceID), (1...5).map { "obs-\($0)" })
        func take(_ verified: KitVerifier.Verified) async throws -> [OutboxID] {
            let manifest = verified.manifest
            return try await home.importKit(KitImport(sourceKey: manifest.signingKey.base64EncodedString(), gateway: manifest.gateway,
                                                      sequence: manifest.sequence, exportID: manifest.exportID, resources: verified.resources,
                                                      details: ["exportID": .string(manifest.exportID)]), actor: "test")
        }
        let taken = try await take(verified)
        XCTAssertEqual(taken.count, 5)
        do {
            _ = try await take(verified)
            XCTFail("a replay is refused")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .kitRefused)
            XCTAssertTrue(error.message.contains("already imported"), error.message)
        }
        let secondVerified = try KitVerifier().verify(work.appendingPathComponent("kit2").path, identity: nil, trustedKey: nil)
        _ = try await take(secondVerified)
        do {
            _ = try await take(verified)
            XCTFail("an older export is refused")
        } catch let error as StoreError {
            XCTAssertTrue(error.message.contains("older than export 2"), error.message)
        }
        let stats = try await home.statistics()
        XCTAssertEqual(stats.outboxPending, 7, "one row per reading: the amended body replaced the pending one")

        // The acknowledgement of kit 1 marks readings 1, 3, 4, 5 sent; reading 2 changed since and stays unsent.
        let ack = KitAcknowledgement(manifest: verified.manifest, resources: verified.resources.map { ($0.resourceType, $0.resourceID, $0.body) },
                                     importedBy: "home", importerKey: try home.reader.kitSigningPublicKey(), importedAt: Store.systemClock())
        var acknowledged: [String: String] = [:]
        for entry in ack.entries { acknowledged[entry.type + "/" + entry.id] = entry.sha256 }
        let report = try await kit.reconcileKit(sequence: 1, acknowledged: acknowledged, details: [:], actor: "test")
        XCTAssertEqual(report.marked, 4)
        XCTAssertEqual(report.unknown, 1, "reading 2's row now belongs to export 2")
        let kitStats = try await kit.statistics()
        XCTAssertEqual(kitStats.outboxPending, 3, "readings 2, 6 and 7 are still unsent on the kit")

        let result = try await JournalVerifier().verify(kit.reader)
        guard case .intact = result else { return XCTFail("the kit's journal: \(result)") }
        let kinds = try await kit.reader.journal(after: 0).map(\.entry.kind)
        XCTAssertEqual(kinds.filter { $0 == .kitExported }.count, 3)
        XCTAssertEqual(kinds.filter { $0 == .kitReconciled }.count, 1)
        let homeKinds = try await home.reader.journal(after: 0).map(\.entry.kind)
        XCTAssertEqual(homeKinds.filter { $0 == .kitImported }.count, 2)
    }

    func testAResearchExtractIsPseudonymisedLeavesTheRowsDueAndCannotBeImported() async throws {
        let kit = try openStore("a")
        defer { try? kit.close() }
        try await kit.enqueue([Self.reading(1)], actor: "test")
        let options = KitExporter.Options(gateway: "kit-a", recipient: nil, pseudonymiser: Pseudonymiser(key: Data(repeating: 7, count: 32)),
                                          clock: [:], actor: "test")
        let extract = try await KitExporter(random: KitFormatTests.random, now: Store.systemClock)
            .export(from: kit, to: work.appendingPathComponent("extract").path, options: options)
        XCTAssertNotNil(extract.pseudonymKeyID)
        let text = try String(contentsOf: work.appendingPathComponent("extract/Observation.ndjson"), encoding: .utf8)
        XCTAssertFalse(text.contains("obs-1"), text)
        XCTAssertTrue(text.contains("2026-11-27T10:00:01Z"), "dates are kept: \(text)")
        XCTAssertThrowsError(try KitVerifier().verify(work.appendingPathComponent("extract").path, identity: nil, trustedKey: nil)) { error in
            XCTAssertTrue("\(error)".contains("pseudonymised research extract"), "\(error)")
        }
        let carry = try await export(kit, "carry")
        XCTAssertEqual(carry.resourceCount, 1, "the extract did not carry the reading home")
    }

    func testTheManifestSaysHowFarItsTimesCanBeTrusted() async throws {
        let kit = try openStore("a")
        defer { try? kit.close() }
        try await kit.journal([JournalEvent(kind: .clockSync, actor: "gateway", details: ["state": .string("synchronised")])])
        try await kit.journal([JournalEvent(kind: .clockSync, actor: "gateway", details: ["state": .string("unsynchronised")])])
        try await kit.journal([JournalEvent(kind: .clockJumped, actor: "gateway", details: ["byMilliseconds": .int(-90_000)])])
        try await kit.journal([JournalEvent(kind: .clockJumped, actor: "gateway", details: ["byMilliseconds": .int(4_000)])])
        let report = try await KitClockReport.make(reader: kit.reader, since: nil, currentState: "unsynchronised")
        XCTAssertEqual(report["trust"], .string("unsynchronised"))
        XCTAssertEqual(report["jumps"], .int(2))
        XCTAssertEqual(report["largestJumpMilliseconds"], .int(90_000))
        XCTAssertNotNil(report["unsynchronisedSince"])
        try await kit.journal([JournalEvent(kind: .clockSync, actor: "gateway", details: ["state": .string("synchronised")])])
        let later = try await KitClockReport.make(reader: kit.reader, since: Store.systemClock().adding(milliseconds: 60_000), currentState: "synchronised")
        XCTAssertEqual(later["trust"], .string("synchronised"), "no jump since the resources were queued: \(later)")
    }

    func testAClearStoreCannotSignAKit() async throws {
        let store = try Store(path: work.appendingPathComponent("clear.sqlite").path, policy: .standard, chain: AuditChain(),
                              now: Store.systemClock, encryption: nil)
        defer { try? store.close() }
        do {
            _ = try await export(store, "kit")
            XCTFail("a clear store has no kit key")
        } catch let error as StoreError {
            XCTAssertEqual(error.code, .keyRequired)
        }
    }
}
