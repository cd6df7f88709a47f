import EdgeCore
import Foundation
import JSONQuery
@testable import Store
import Synchronization
import TestSupport
import XCTest

/// Group commit through the store: appends that arrive while another commits share the next
/// transaction. Another process (the sqlite3 tool) holds the write lock so that the appends
/// queue up deterministically; transactions are counted by the store, not inferred from timing.
final class GroupCommitTests: XCTestCase {
    func testAppendsThatArriveTogetherShareOneTransactionAndAreAnsweredOnlyAfterItCommits() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let watcher = try StoreReader.openReadOnly(path: fixture.path)
        let lock = try WriteLockHolder(path: fixture.path)
        let answered = Counter()
        let now = fixture.clock.now
        let first = fixture.message("first")
        let others = (1...7).map { [fixture.message("m\($0)"), fixture.message("n\($0)")] }
        // One request for one message each; their committed total is what another connection sees.
        let results = Task {
            try await withThrowingTaskGroup(of: (ids: [InboxID], committedWhenAnswered: Int64).self) { group in
                group.addTask {
                    let ids = try await store.append([first], actor: "client-0")
                    answered.increment()
                    return (ids, try await watcher.statistics(at: now).inbox)
                }
                // The first request is in the writer, waiting for the lock, before the others arrive.
                try await waitUntil { store.appendCommits.transactions == 1 }
                for client in 1...7 {
                    group.addTask {
                        let ids = try await store.append(others[client - 1], actor: "client-\(client)")
                        answered.increment()
                        return (ids, try await watcher.statistics(at: now).inbox)
                    }
                }
                var results: [(ids: [InboxID], committedWhenAnswered: Int64)] = []
                for try await result in group { results.append(result) }
                return results
            }
        }
        try await waitUntil { store.appendsWaiting == 7 }
        XCTAssertEqual(answered.value, 0, "no append may be answered before its transaction commits")
        try lock.release()
        let answers = try await results.value

        XCTAssertEqual(store.appendCommits.transactions, 2, "the seven requests that waited must share one transaction")
        XCTAssertEqual(store.appendCommits.appends, 8)
        let ids = answers.flatMap(\.ids).map(\.rawValue).sorted()
        XCTAssertEqual(ids, Array(1...15))
        for answer in answers {
            // Seen committed by another connection when its caller was answered.
            XCTAssertGreaterThanOrEqual(answer.committedWhenAnswered, answer.ids.map(\.rawValue).max() ?? .max)
        }
        let journal = try await fixture.journal(store)
        XCTAssertEqual(journal.filter { $0.entry.kind == .inboxReceived }.map(\.entry.actor).sorted(), (0...7).map { "client-\($0)" })
        let received = try await store.statistics().received
        XCTAssertEqual(received, 15)
    }

    func testAFailedGroupAnswersEveryMemberWithAnErrorAndLosesNothingAcknowledged() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        let acknowledged = try await store.append([fixture.message("kept")], actor: "before")
        let lock = try WriteLockHolder(path: fixture.path)
        let firstMessage = fixture.message("first")
        let first = Task { try await store.append([firstMessage], actor: "first") }
        try await waitUntil { store.appendCommits.transactions == 2 }
        // A group of three; the one from "poisoned" makes its transaction fail.
        let members = [("second", "client-1"), ("poisoned", "poison"), ("third", "client-1")].map { actor, source in
            var message = fixture.message(actor)
            message.sourceID = source
            return (actor, message)
        }
        let group = Task {
            await withTaskGroup(of: StoreError?.self) { group in
                for (actor, message) in members {
                    group.addTask {
                        do throws(StoreError) {
                            _ = try await store.append([message], actor: actor)
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                var errors: [StoreError?] = []
                for await error in group { errors.append(error) }
                return errors
            }
        }
        try await waitUntil { store.appendsWaiting == 3 }
        try lock.release(running: """
            CREATE TRIGGER poison BEFORE INSERT ON inbox WHEN NEW.source_id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END;
            """)
        let firstIDs = try await first.value
        let errors = await group.value

        XCTAssertEqual(store.appendCommits.transactions, 3)
        XCTAssertEqual(errors.count, 3)
        for error in errors {
            XCTAssertEqual(error?.code, .database, "every member of the failed group is answered with the error")
            XCTAssertTrue(error?.message.contains("3 concurrent requests in one transaction") ?? false, "\(String(describing: error))")
        }
        XCTAssertEqual(try fixture.sqlite("DROP TRIGGER poison").status, 0)
        let stored = try await store.reader.inbox().map { String(decoding: $0.item.message.payload, as: UTF8.self) }
        XCTAssertEqual(stored, ["kept", "first"], "what was acknowledged is kept, nothing of the failed group is stored")
        XCTAssertEqual(acknowledged + firstIDs, [InboxID(1), InboxID(2)])
        let after = try await store.append([fixture.message("after")], actor: "after")
        XCTAssertEqual(after, [InboxID(3)], "the store takes appends again after a failed group")
        let actors = try await fixture.journal(store).map(\.entry.actor)
        XCTAssertEqual(actors, ["before", "first", "after"])
    }

    func testAppendsOneAtATimeEachCommitTheirOwnTransaction() async throws {
        let fixture = try StoreFixture()
        let store = try fixture.open()
        for index in 0..<3 { _ = try await store.append([fixture.message("\(index)")], actor: "serial") }
        XCTAssertEqual(store.appendCommits.transactions, 3)
        XCTAssertEqual(store.appendCommits.appends, 3)
    }

    func testARefusalAtTheHighWaterMarkIsOneMembersOutcomeNotTheGroups() async throws {
        let fixture = try StoreFixture()
        // Room for the first small message and the second, not for the large one between them.
        let store = try fixture.open(StorePolicy(maxBytes: 40))
        let lock = try WriteLockHolder(path: fixture.path)
        let (firstMessage, largeMessage, smallMessage) = (fixture.message("first"), fixture.message(String(repeating: "x", count: 39)), fixture.message("small"))
        let first = Task { try await store.append([firstMessage], actor: "first") }
        try await waitUntil { store.appendCommits.transactions == 1 }
        let large = Task { () -> StoreError? in
            do throws(StoreError) { _ = try await store.append([largeMessage], actor: "large"); return nil } catch { return error }
        }
        try await waitUntil { store.appendsWaiting == 1 }
        let small = Task { try await store.append([smallMessage], actor: "small") }
        try await waitUntil { store.appendsWaiting == 2 }
        try lock.release()
        _ = try await first.value
        let refusal = await large.value
        let smallIDs = try await small.value
        XCTAssertEqual(store.appendCommits.transactions, 2)
        XCTAssertEqual(refusal?.code, .highWaterMark)
        XCTAssertEqual(smallIDs, [InboxID(2)])
    }
}

/// Counts across tasks.
private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}

/// Waits for `condition`, checking it between short sleeps; fails after `attempts` checks
/// instead of hanging (a bound, not a timing assertion).
private func waitUntil(attempts: Int = 5000, file: StaticString = #filePath, line: UInt = #line,
               _ condition: @Sendable () -> Bool) async throws {
    for _ in 0..<attempts {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(2))
    }
    XCTFail("the condition did not become true", file: file, line: line)
    throw CancellationError()
}

/// Another process holding the store's write lock: the sqlite3 tool in an immediate transaction,
/// until `release` commits it (with `running`'s statements first).
final class WriteLockHolder {
    private let process = Process()
    private let input = Pipe()

    init(path: String) throws {
        let tool = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("sqlite3 command-line tool not installed") }
        let marker = path + ".held"
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-bail", path]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The tool marks the lock as held by creating a file once BEGIN IMMEDIATE has returned.
        send("BEGIN IMMEDIATE;\n.shell touch '\(marker)'\n")
        for _ in 0..<5000 where !FileManager.default.fileExists(atPath: marker) { usleep(2000) }
        guard FileManager.default.fileExists(atPath: marker) else {
            process.terminate()
            throw StoreError(.database, "the sqlite3 tool did not take the write lock", location: path)
        }
    }

    func release(running statements: String = "") throws {
        send(statements + "\nCOMMIT;\n.quit\n")
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "the sqlite3 tool failed to commit")
    }

    deinit { if process.isRunning { process.terminate() } }

    private func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }
}
