import EdgeCore
import Foundation
import JSONQuery
import Store
import Synchronization
import TestSupport
import Upstream

struct OnlyNumbers: JournalChain {
    func hash(of entry: JournalEntry, previous: String?) -> String { "h\(entry.sequence)" }
}

/// A store in a fresh folder, a fake server and an uploader between them.
final class UploadFixture: @unchecked Sendable {
    let directory: URL
    let clock = TestClock(Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    let store: Store
    let server: FakeFHIRServer

    init(server: FakeFHIRServer = FakeFHIRServer()) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-upload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try Store(path: directory.appendingPathComponent("edge.sqlite").path, policy: .standard, chain: OnlyNumbers(),
                          now: clock.function)
        self.server = server
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    func uploader(_ settings: UploadSettings = UploadSettings(), seed: UInt64 = 1) -> Uploader {
        Uploader(store: store, client: FHIRClient(baseURL: FakeFHIRServer.base, transport: server), settings: settings,
                 now: clock.function, sleep: clock.sleep, randomSeed: seed)
    }

    static func observation(_ n: Int, extra: String = "") -> OutboxResource {
        let body = #"{"resourceType":"Observation","id":"obs-\#(n)","identifier":[{"system":"urn:test","value":"reading-\#(n)"}],"status":"final"\#(extra)}"#
        return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-\(n)", identityKey: "urn:test|reading-\(n)", body: body)
    }

    @discardableResult
    func enqueue(_ resources: [OutboxResource]) async throws -> [OutboxID] {
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: resources))
    }

    func enqueue(observations range: ClosedRange<Int>) async throws {
        try await enqueue(range.map { Self.observation($0) })
    }

    func journalKinds() async throws -> [String] {
        try await store.reader.journal(after: 0, limit: 100_000).map(\.entry.kind.rawValue)
    }
}
