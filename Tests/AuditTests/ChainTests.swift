import Audit
import EdgeCore
import JSONQuery
import Store
import XCTest

final class ChainTests: XCTestCase {
    func testCanonicalFormAndHashesMatchAnIndependentSHA256() {
        // Expected values computed with Python's hashlib over the same bytes.
        let first = JournalEntry(sequence: 1, time: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), event: JournalEvent(
            kind: .inboxReceived, actor: "http:client-1", subjects: [.inbox(InboxID(1))], details: ["messages": 1, "bytes": 12]))
        XCTAssertEqual(String(decoding: AuditChain.canonical(first), as: UTF8.self),
                       #"{"actor":"http:client-1","details":{"bytes":12,"messages":1},"kind":"inbox.received","seq":1,"subjects":["inbox/1"],"time":1700000000000}"#)
        let firstHash = AuditChain().hash(of: first, previous: nil)
        XCTAssertEqual(firstHash, "8c0673034e7f02131ffdb3b3af53cb5e7bf74045c697d6c320639edf0bc9c916")
        let second = JournalEntry(sequence: 2, time: Timestamp(millisecondsSinceEpoch: 1_700_000_000_001),
                                  event: JournalEvent(kind: JournalKind("access.export"), actor: "operator"))
        XCTAssertEqual(AuditChain().hash(of: second, previous: firstHash),
                       "5dee84b72ae3394c1cd98fb4862fa9b8fc5a092513edb489a04e827f2f1a74ac")
    }

    func testAnIntactChainOfThousandsOfEntriesVerifies() async throws {
        let fixture = try AuditFixture()
        let store = try await fixture.storeWithJournal(entries: 3000)
        // Operations chain their own entries onto the same journal.
        let ids = try await store.append([InboxMessage(profile: ProfileID("p"), transport: .http, sourceID: "c",
                                                       receivedAt: fixture.now, payload: Array("{}".utf8))], actor: "http:c")
        _ = try await store.claimInbox(limit: 1)
        try await store.completeMapping(MappingResult(inboxIDs: ids))
        let result = try await JournalVerifier().verify(store.reader)
        guard case .intact(let entries, let head) = result else { return XCTFail("\(result)") }
        // 3 000 entries, a checkpoint after each thousand, the receipt and the mapping.
        XCTAssertEqual(entries, 3005)
        let recorded = try await store.reader.journalHead()
        XCTAssertEqual(head, recorded?.hash)
    }

    func testVerifyingWhileTheDaemonAppendsReportsNoFalseTampering() async throws {
        let fixture = try AuditFixture()
        let store = try await fixture.storeWithJournal(entries: 1000)
        let appending = Task {
            for i in 0..<100 {
                try await store.journal((0..<5).map { _ in JournalEvent(kind: JournalKind("access.read"), actor: "operator", details: ["i": .int(Int64(i))]) })
            }
        }
        let reader = try StoreReader.openReadOnly(path: fixture.path)
        for _ in 0..<5 {
            let result = try await JournalVerifier(pageSize: 50).verify(reader)
            XCTAssertTrue(result.isIntact, "\(result)")
        }
        try await appending.value
        let final = try await JournalVerifier().verify(reader)
        let head = try await reader.journalHead()
        // 1 500 entries and the checkpoint after the first thousand.
        XCTAssertEqual(final, .intact(entries: 1501, head: head?.hash))
    }

    func testAnEmptyJournalVerifies() async throws {
        let fixture = try AuditFixture()
        let store = try fixture.open()
        let result = try await JournalVerifier().verify(store.reader)
        XCTAssertEqual(result, .intact(entries: 0, head: nil))
    }
}
