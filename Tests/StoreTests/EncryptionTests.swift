import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// Deterministic bytes for nonces and data keys: a counter, so a test run is repeatable.
final class CountingRandom: Sendable {
    private let next = Locked<UInt8>(1)
    var function: @Sendable (Int) -> [UInt8] {
        { [self] count in next.withLock { value in (0..<count).map { _ in value &+= 1; return value } } }
    }
}

extension StoreFixture {
    static let keyA = String(repeating: "a1", count: 32)
    static let keyB = String(repeating: "b2", count: 32)

    func key(_ text: String = StoreFixture.keyA, name: String = "A") throws -> KeyEncryptionKey {
        try KeyEncryptionKey(material: Array(text.utf8), source: "test key \(name)")
    }

    func openEncrypted(_ key: KeyEncryptionKey, random: CountingRandom = CountingRandom()) throws -> Store {
        try Store(path: path, policy: .standard, chain: NumberingChain(), now: clock.function,
                  encryption: StoreEncryption(keyEncryptionKey: key, random: random.function))
    }

    /// The names of the store's files that contain `needle` (db, -wal, -shm, anything in the folder).
    func filesContaining(_ needle: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return try names.filter { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            return data.range(of: Data(needle.utf8)) != nil
        }
    }
}

final class EncryptionTests: XCTestCase {
    static let patient = "SENTINEL-PATIENT-7f3a"
    static let marker = "SENTINEL-PAYLOAD-91c2"

    /// Every path that writes or moves patient data: append, claim, mapping with a failure,
    /// lease, reject, replay both ways, dead-letter reads, export and server identities.
    private func exercise(_ store: Store, _ fixture: StoreFixture) async throws {
        let payload = #"{"patient":"\#(Self.patient)","note":"\#(Self.marker)"}"#
        let ids = try await store.append([fixture.message(payload), fixture.message(payload + " ")], actor: "http:client-1")
        let claimed = try await store.claimInbox(limit: 10)
        XCTAssertEqual(claimed.map(\.message.payload), [Array(payload.utf8), Array((payload + " ").utf8)])
        let body = #"{"resourceType":"Observation","subject":{"identifier":{"value":"\#(Self.patient)"}}}"#
        let identity = "urn:patient|" + Self.patient
        try await store.completeMapping(MappingResult(
            inboxIDs: ids, resources: [OutboxResource(inboxID: ids[0], resourceType: "Observation", resourceID: "obs-1", identityKey: identity, body: body)],
            failures: [MappingFailure(inboxID: ids[1], stage: "fhir-mapping", errorType: "missing", errorMessage: "no value")]))
        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(lease.items.map(\.resource.body), [body])
        XCTAssertEqual(lease.items.map(\.resource.identityKey), [identity])
        let report = try await store.settle(lease: lease.id, [OutboxSettlement(lease.items[0].id, .reject(errorType: "invalid", errorMessage: "422"))])
        let letters = try await store.reader.deadLetters()
        XCTAssertEqual(letters.count, 2)
        let inboxLetter = try await store.reader.deadLetter(letters[0].id)
        XCTAssertEqual(inboxLetter.payload, Array((payload + " ").utf8))
        let outboxLetter = try await store.reader.deadLetter(report.rejected[0])
        XCTAssertEqual(outboxLetter.payload, Array(body.utf8))
        let destinations = try await store.replayDeadLetters(letters.map(\.id), actor: "cli")
        XCTAssertEqual(destinations.count, 2)
        let again = try await store.claimInbox(limit: 10)
        XCTAssertEqual(again.map(\.message.payload), [Array((payload + " ").utf8)])
        var exported: [String] = []
        try await store.reader.exportOutbox { exported.append($0) }
        XCTAssertEqual(exported, [body])
        let leasedAgain = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(leasedAgain.items.map(\.resource.identityKey), [identity], "the replayed resource keeps its identity")
        try await store.recordServerIdentities([ServerIdentity(
            resourceType: "Patient", system: "urn:patient", value: Self.patient, localID: "p1", serverID: "s1", serverVersion: "1",
            lastUpdated: nil, patientServerID: nil, resolvedAt: fixture.clock.now)])
        try await store.recordServerIdentities([ServerIdentity(
            resourceType: "Patient", system: "urn:patient", value: Self.patient, localID: nil, serverID: "s2", serverVersion: "2",
            lastUpdated: nil, patientServerID: nil, resolvedAt: fixture.clock.now)])
        let identities = try await store.serverIdentities()
        XCTAssertEqual(identities.map(\.value), [Self.patient])
        XCTAssertEqual(identities.map(\.serverID), ["s2"], "an upsert finds the row by the identifier's keyed hash")
        XCTAssertEqual(identities.map(\.localID), ["p1"])
    }

    func testEveryPatientDataPathWorksEncryptedAndNoSentinelReachesTheFiles() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.openEncrypted(try fixture.key())
        try await exercise(store, fixture)
        try store.close()
        XCTAssertEqual(try fixture.filesContaining(Self.patient), [])
        XCTAssertEqual(try fixture.filesContaining(Self.marker), [])
    }

    func testTheSameExerciseInClearFindsTheSentinels() async throws {
        // The check above can fail: without a key the same data is readable in the files.
        let fixture = try StoreFixture()
        let store = try fixture.open()
        try await exercise(store, fixture)
        try store.close()
        XCTAssertFalse(try fixture.filesContaining(Self.patient).isEmpty)
    }

    func testACiphertextMovedToAnotherRowDoesNotOpen() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.openEncrypted(try fixture.key())
        _ = try await store.append([fixture.message("first"), fixture.message("second")], actor: "test")
        try store.close()
        let copied = try fixture.sqlite("UPDATE inbox SET payload = (SELECT payload FROM inbox WHERE id = 1) WHERE id = 2; SELECT changes();")
        XCTAssertEqual(copied.output, "1")
        let reopened = try fixture.openEncrypted(try fixture.key())
        do {
            _ = try await reopened.claimInbox(limit: 10)
            XCTFail("a payload moved to another row must not decrypt")
        } catch {
            XCTAssertEqual(error.code, .corruptRow)
            XCTAssertEqual(error.location, "inbox/2")
        }
    }

    func testAWrongOrMissingKeyFailsAtOpenNamingTheKeySource() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.openEncrypted(try fixture.key())
        _ = try await store.append([fixture.message()], actor: "test")
        try store.close()
        XCTAssertThrowsError(try fixture.openEncrypted(try fixture.key(StoreFixture.keyB, name: "B"))) { error in
            let error = error as? StoreError
            XCTAssertEqual(error?.code, .wrongKey)
            XCTAssertTrue(error?.message.contains("test key B") ?? false, error?.message ?? "")
        }
        XCTAssertThrowsError(try fixture.open()) { error in
            XCTAssertEqual((error as? StoreError)?.code, .keyRequired)
        }
        XCTAssertThrowsError(try StoreReader.openReadOnly(path: fixture.path)) { error in
            XCTAssertEqual((error as? StoreError)?.code, .keyRequired)
        }
        XCTAssertThrowsError(try StoreReader.openReadOnly(
            path: fixture.path, encryption: StoreEncryption(keyEncryptionKey: try fixture.key(StoreFixture.keyB, name: "B")))) { error in
            XCTAssertEqual((error as? StoreError)?.code, .wrongKey)
        }
        // Nothing was changed by the failed opens.
        let reopened = try fixture.openEncrypted(try fixture.key())
        let claimed = try await reopened.claimInbox(limit: 10)
        XCTAssertEqual(claimed.count, 1)
    }

    func testAKeyThatIsNot256BitsIsRefused() {
        XCTAssertThrowsError(try KeyEncryptionKey(material: Array("short".utf8), source: "key file k")) { error in
            XCTAssertEqual((error as? StoreError)?.code, .keyUnavailable)
            XCTAssertEqual((error as? StoreError)?.location, "key file k")
        }
        XCTAssertNoThrow(try KeyEncryptionKey(material: [UInt8](repeating: 7, count: 32), source: "raw"))
        XCTAssertNoThrow(try KeyEncryptionKey(material: Array((Data(repeating: 7, count: 32).base64EncodedString() + "\n").utf8), source: "b64"))
    }

    func testAClearStoreIsEncryptedInPlaceOnItsFirstOpenWithAKey() async throws {
        let fixture = try StoreFixture()
        let clear = try fixture.open()
        let payload = "{\"p\":\"\(Self.patient)\"}"
        let ids = try await clear.append([fixture.message(payload), fixture.message(payload)], actor: "test")
        _ = try await clear.claimInbox(limit: 1)
        try await clear.completeMapping(MappingResult(inboxIDs: [ids[0]], resources: [
            OutboxResource(inboxID: ids[0], resourceType: "Observation", resourceID: "obs-1", identityKey: "urn:p|" + Self.patient,
                           body: "{\"s\":\"\(Self.patient)\"}"),
        ]))
        try await clear.recordServerIdentities([ServerIdentity(
            resourceType: "Patient", system: "urn:p", value: Self.patient, localID: "l", serverID: "s", serverVersion: nil,
            lastUpdated: nil, patientServerID: nil, resolvedAt: fixture.clock.now)])
        try clear.close()
        XCTAssertEqual(try Store.encryptionState(path: fixture.path), .clear)

        let key = try fixture.key()
        let store = try fixture.openEncrypted(key)
        XCTAssertEqual(try Store.encryptionState(path: fixture.path), .encrypted(keyID: key.id))
        let journal = try await fixture.journal(store)
        XCTAssertEqual(journal.last?.entry.kind, .storeEncrypted)
        XCTAssertEqual(journal.last?.entry.details["rows"], JSONValue.int(4))
        let claimed = try await store.claimInbox(limit: 10)
        XCTAssertEqual(claimed.map(\.message.payload), [Array(payload.utf8)])
        let lease = try await store.leaseOutbox(limit: 10, for: .seconds(30))
        XCTAssertEqual(lease.items.map(\.resource.identityKey), ["urn:p|" + Self.patient])
        let identities = try await store.serverIdentities()
        XCTAssertEqual(identities.map(\.value), [Self.patient])
        try store.close()
        XCTAssertEqual(try fixture.filesContaining(Self.patient), [], "the clear pages are vacuumed away")
    }

    func testRekeyingKeepsEveryRowReadableAndRetiresTheOldKey() async throws {
        for newDataKey in [false, true] {
            let fixture = try StoreFixture()
            let store = try fixture.openEncrypted(try fixture.key())
            try await exercise(store, fixture)
            let before = try await rows(store)
            let rewritten = try await store.rekey(to: try fixture.key(StoreFixture.keyB, name: "B"), newDataKey: newDataKey, actor: "cli")
            XCTAssertEqual(rewritten > 0, newDataKey)
            try store.close()
            XCTAssertThrowsError(try fixture.openEncrypted(try fixture.key())) { error in
                XCTAssertEqual((error as? StoreError)?.code, .wrongKey)
            }
            let rotated = try fixture.openEncrypted(try fixture.key(StoreFixture.keyB, name: "B"))
            let after = try await rows(rotated)
            XCTAssertEqual(after, before, "newDataKey: \(newDataKey)")
            try rotated.close()
            XCTAssertEqual(try fixture.filesContaining(Self.patient), [])
        }
    }

    /// Everything readable through the API, for comparing before and after a rotation.
    private func rows(_ store: Store) async throws -> [String] {
        var lines: [String] = []
        try await store.reader.exportOutbox(states: [.pending, .leased, .sent]) { lines.append($0) }
        for letter in try await store.reader.deadLetters() {
            lines.append(String(decoding: try await store.reader.deadLetter(letter.id).payload ?? [], as: UTF8.self))
        }
        lines += try await store.serverIdentities().map(\.value)
        return lines
    }

    func testStoreFilesAreOwnerOnlyWhateverTheUmask() async throws {
        let fixture = try StoreFixture()
        let nested = fixture.directory.appendingPathComponent("data").path
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try Store(path: nested + "/edge.sqlite", policy: .standard, chain: NumberingChain(), now: fixture.clock.function,
                              encryption: StoreEncryption(keyEncryptionKey: try fixture.key()))
        _ = try await store.append([fixture.message()], actor: "test")
        func mode(_ path: String) throws -> Int {
            try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        XCTAssertEqual(try mode(nested), 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: nested)
        XCTAssertTrue(files.contains("edge.sqlite-wal"), "\(files)")
        for name in files {
            XCTAssertEqual(try mode(nested + "/" + name), 0o600, name)
        }
        try store.close()
    }
}
