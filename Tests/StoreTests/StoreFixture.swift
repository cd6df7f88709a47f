import EdgeCore
import Foundation
import JSONQuery
import Store
import Synchronization
import TestSupport
import XCTest

/// A chain that only numbers entries; the real one lives in the audit module and is tested there.
struct NumberingChain: JournalChain {
    func hash(of entry: JournalEntry, previous: String?) -> String { "h\(entry.sequence)" }
}

/// A fresh folder per test, removed afterwards.
final class StoreFixture {
    let directory: URL
    let clock = TestClock(Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var path: String { directory.appendingPathComponent("edge.sqlite").path }

    func open(_ policy: StorePolicy = .standard, at path: String? = nil) throws -> Store {
        try Store(path: path ?? self.path, policy: policy, chain: NumberingChain(), now: clock.function)
    }

    func message(_ text: String = #"{"heartRate":72}"#, device: String = "dev-1") -> InboxMessage {
        InboxMessage(profile: ProfileID("demo-vitals"), transport: .http, sourceID: "client-1", deviceID: device,
                     receivedAt: clock.now, deviceTime: Timestamp(millisecondsSinceEpoch: 1_699_999_999_000), payload: Array(text.utf8))
    }

    func resource(_ inbox: InboxID?, identity: String, body: String = #"{"resourceType":"Observation"}"#) -> OutboxResource {
        OutboxResource(inboxID: inbox, resourceType: "Observation", resourceID: identity, identityKey: identity, body: body)
    }

    func journal(_ store: Store) async throws -> [JournalRecord] {
        try await store.reader.journal(after: 0, limit: 100_000)
    }

    /// Runs the sqlite3 command-line tool on `path`; skips the test when it is not installed.
    func sqlite(_ sql: String, path: String? = nil) throws -> (status: Int32, output: String) {
        let tool = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("sqlite3 command-line tool not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-cmd", ".timeout 5000", path ?? self.path, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

func XCTAssertThrowsStoreError<T>(_ code: StoreError.Code, _ body: () async throws -> T,
                                  file: StaticString = #filePath, line: UInt = #line) async {
    do {
        _ = try await body()
        XCTFail("expected a \(code) error", file: file, line: line)
    } catch let error as StoreError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
