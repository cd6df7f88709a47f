import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store
import XCTest

/// A store with the real chain in a fresh folder, a hand-moved clock and the sqlite3 tool for
/// tampering as an intruder would.
final class AuditFixture: Sendable {
    let directory: URL
    private let millis = Locked<Int64>(1_700_000_000_000)

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    var path: String { directory.appendingPathComponent("edge.sqlite").path }
    var now: Timestamp { Timestamp(millisecondsSinceEpoch: millis.withLock { $0 }) }
    func advance(milliseconds: Int64) { millis.withLock { $0 += milliseconds } }

    func open() throws -> Store {
        try Store(path: path, policy: .standard, chain: AuditChain(), now: { [self] in now })
    }

    /// A store whose journal holds `count` caller entries (plus whatever the operations add).
    func storeWithJournal(entries count: Int) async throws -> Store {
        let store = try open()
        var batch: [JournalEvent] = []
        for i in 0..<count {
            batch.append(JournalEvent(kind: JournalKind("access.read"), actor: "operator:alice",
                                      subjects: [.inbox(InboxID(Int64(i)))], details: ["n": .int(Int64(i))]))
            if batch.count == 500 {
                try await store.journal(batch)
                batch.removeAll()
                advance(milliseconds: 1)
            }
        }
        try await store.journal(batch)
        return store
    }

    func verify() async throws -> JournalVerification {
        let reader = try StoreReader.openReadOnly(path: path)
        defer { try? reader.close() }
        return try await JournalVerifier(pageSize: 64).verify(reader)
    }

    /// Runs SQL with the sqlite3 command-line tool; skips the test when it is not installed.
    @discardableResult
    func sqlite(_ sql: String, expectSuccess: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let tool = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("sqlite3 command-line tool not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-cmd", ".timeout 5000", path, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(process.terminationStatus == 0, expectSuccess, "sqlite3: \(output)", file: file, line: line)
        return output
    }

    /// What an intruder does first: remove the append-only triggers.
    func dropGuards() throws {
        try sqlite("DROP TRIGGER journal_no_update; DROP TRIGGER journal_no_delete;")
    }
}
