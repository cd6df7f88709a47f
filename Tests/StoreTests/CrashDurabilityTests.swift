import EdgeCore
import Foundation
import Store
import XCTest

/// Kills a writing process with SIGKILL and checks that every message it had acknowledged is in
/// the store. The writer is this test bundle run again as a child, limited to
/// `CrashWriter.testAppendUntilKilled`, so no helper executable is needed. (Power loss cannot be
/// simulated here; `synchronous = FULL` is checked in `InboxTests`.)
final class CrashDurabilityTests: XCTestCase {
    func testEveryAcknowledgedMessageSurvivesSIGKILL() throws {
        let fixture = try StoreFixture()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["StoreTests.CrashWriter/testAppendUntilKilled"]
        process.environment = ProcessInfo.processInfo.environment.merging([CrashWriter.pathVariable: fixture.path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()

        var acknowledged: Int64 = 0
        var buffer = ""
        let deadline = Date().addingTimeInterval(120)
        while acknowledged < 200, Date() < deadline {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
            while let newline = buffer.firstIndex(of: "\n") {
                let line = buffer[..<newline]
                buffer = String(buffer[buffer.index(after: newline)...])
                if line.hasPrefix("ACK "), let id = Int64(line.dropFirst(4)) { acknowledged = max(acknowledged, id) }
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the writer must die by the signal, mid-write")
        XCTAssertGreaterThanOrEqual(acknowledged, 200, "the writer acknowledged too little before the deadline")

        let store = try fixture.open()
        let stored = try awaitResult { try await store.claimInbox(limit: 1_000_000).map(\.id.rawValue) }
        let lost = Set(1...max(1, acknowledged)).subtracting(stored).sorted()
        XCTAssertTrue(lost.isEmpty, "\(lost.count) acknowledged messages were lost, the first being inbox/\(lost.first ?? 0)")
    }

    /// Runs async work from this synchronous test (the child is killed with blocking reads above).
    private func awaitResult<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let expectation = expectation(description: "async")
        nonisolated(unsafe) var result: Result<T, any Error>?
        Task {
            do { result = .success(try await body()) } catch { result = .failure(error) }
            expectation.fulfill()
        }
        wait(for: [expectation], timeout: 60)
        return try XCTUnwrap(result).get()
    }
}

/// The child side of `CrashDurabilityTests`; skipped in a normal run.
final class CrashWriter: XCTestCase {
    static let pathVariable = "FHIR_EDGE_STORE_CRASH_WRITER"

    func testAppendUntilKilled() async throws {
        guard let path = ProcessInfo.processInfo.environment[Self.pathVariable] else {
            throw XCTSkip("the writer half of CrashDurabilityTests; runs only as its child process")
        }
        let store = try Store(path: path, policy: .standard, chain: NumberingChain(), now: Store.systemClock)
        let payload = Array(#"{"heartRate":72,"spo2":98}"#.utf8)
        // Bounded: the parent kills it long before the end.
        for _ in 0..<100_000 {
            let messages = (0..<5).map { _ in
                InboxMessage(profile: ProfileID("p"), transport: .http, sourceID: "c", receivedAt: Store.systemClock(), payload: payload)
            }
            let ids = try await store.append(messages, actor: "crash-writer")
            // Acknowledge only after append returned, exactly as ingest answers 202.
            FileHandle.standardOutput.write(Data("ACK \(ids.last?.rawValue ?? 0)\n".utf8))
        }
    }
}
