import EdgeCore
import Foundation
import Store
import TestSupport
import XCTest

/// What the gateway acknowledged survives SIGKILL at any moment, exactly once.
final class CrashSafetyTests: XCTestCase {
    /// Posts single messages, arrays and NDJSON while the daemon is killed with SIGKILL at
    /// seeded random moments (during intake and mapping) and restarted, 22 times. Only 202
    /// answers count as acknowledged. At the end every acknowledged message is in the store exactly
    /// once, under the inbox id it was acknowledged with, mapped or dead-lettered, and the journal
    /// verifies.
    func testAcknowledgedMessagesSurviveRepeatedSIGKILL() async throws {
        _ = try Pipeline.sqlite3()
        let seed = UInt64(ProcessInfo.processInfo.environment["FHIR_EDGE_CRASH_SEED"] ?? "") ?? 20_261_127
        var random = SplitMix64(seed: seed)
        let directory = try temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = DaemonProcess.demo(dataDirectory: directory)
        let client = CrashClient(seed: random.next())
        let kills = 22
        let started = Date()

        for _ in 0..<kills {
            try daemon.start()
            client.begin(port: daemon.port)
            // Between 20 ms and 400 ms of traffic, so kills land in requests, commits and mapping.
            usleep(UInt32.random(in: 20_000...400_000, using: &random))
            daemon.killNow()
            client.end()
        }
        XCTAssertGreaterThan(client.acknowledged.count, 0, "no message was acknowledged; see \(daemon.log)")

        // A last, clean run maps whatever the kills left in the inbox.
        try daemon.start()
        let drained = try Pipeline.eventually(timeout: 30) { Pipeline.integer(try Pipeline.queueStats(directory), "inbox") == 0 }
        XCTAssertTrue(drained, "the inbox did not drain after the restarts")
        XCTAssertEqual(daemon.stop(), 0, "graceful stop failed: \(daemon.log.suffix(2000))")

        // The payloads are encrypted: read them through the store with the daemon's key.
        var found: [String: [(table: String, id: Int64, state: String)]] = [:]
        let reader = try StoreReader.openReadOnly(path: daemon.storePath, encryption: Pipeline.encryption(directory))
        defer { try? reader.close() }
        var after: InboxID?
        while true {
            let page = try await reader.inbox(after: after)
            guard let last = page.last else { break }
            for (item, state) in page { found[Pipeline.messageID(item.message.payload) ?? "?", default: []].append(("inbox", item.id.rawValue, state)) }
            after = last.item.id
        }
        var afterLetter: DeadLetterID?
        while true {
            let page = try await reader.deadLetters(after: afterLetter)
            guard let last = page.last else { break }
            for letter in page {
                guard case .inbox(let inbox) = letter.origin else { continue }
                let payload = try await reader.deadLetter(letter.id).payload ?? []
                found[Pipeline.messageID(payload) ?? "?", default: []].append(("dead", inbox.rawValue, "dead"))
            }
            afterLetter = last.id
        }
        let received = try await reader.statistics(at: Store.systemClock()).received
        let stored = found.values.reduce(0) { $0 + $1.count }
        XCTAssertEqual(Int64(stored), received, "every committed message is a row, none evicted or duplicated")

        var lost = 0, duplicated = 0, wrongID = 0, unmapped = 0
        for (marker, id) in client.acknowledged {
            guard let entries = found[marker], !entries.isEmpty else { lost += 1; continue }
            if entries.count > 1 { duplicated += 1 }
            if entries[0].id != id { wrongID += 1 }
            if entries[0].state != "mapped" && entries[0].state != "dead" { unmapped += 1 }
        }
        let unacknowledgedDuplicates = found.filter { $0.value.count > 1 }.count
        XCTAssertEqual(lost, 0, "acknowledged messages lost (seed \(seed))")
        XCTAssertEqual(duplicated, 0, "acknowledged messages stored more than once (seed \(seed))")
        XCTAssertEqual(unacknowledgedDuplicates, 0, "messages stored more than once (seed \(seed))")
        XCTAssertEqual(wrongID, 0, "acknowledged messages stored under another inbox id (seed \(seed))")
        XCTAssertEqual(unmapped, 0, "acknowledged messages neither mapped nor dead-lettered (seed \(seed))")
        let deadLetters = found.values.flatMap { $0 }.filter { $0.table == "dead" }.count
        XCTAssertGreaterThan(deadLetters, 0, "the malformed readings should have been dead-lettered")

        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", directory.path])
        XCTAssertEqual(verify.status, 0, "audit verify after \(kills) kills: \(verify.stdoutText) \(verify.stderr)")
        print("crash safety: \(kills) SIGKILLs, \(client.acknowledged.count) acknowledged of \(client.sent) attempted, "
              + "\(stored) stored, \(deadLetters) dead-lettered, \(String(format: "%.1f", Date().timeIntervalSince(started))) s (seed \(seed))")
    }
}

/// Posts until told to stop, from its own thread; records the messages a 202 acknowledged.
private final class CrashClient: @unchecked Sendable {
    private let lock = NSLock()
    private var random: SplitMix64
    private var counter = 0
    private var running = false
    private var finished = DispatchSemaphore(value: 0)
    private var _acknowledged: [String: Int64] = [:]
    private var _sent = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    var acknowledged: [String: Int64] { lock.withLock { _acknowledged } }
    var sent: Int { lock.withLock { _sent } }

    func begin(port: Int) {
        lock.withLock { running = true }
        finished = DispatchSemaphore(value: 0)
        let done = finished
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let (markers, headers, body) = nextRequest()
                let reply = LoopbackHTTP.request(port: port, method: "POST", path: "/ingest/demo-vitals", headers: headers,
                                                 body: body, timeoutSeconds: 5)
                lock.withLock {
                    _sent += markers.count
                    if let reply, let ids = Pipeline.acceptedIDs(reply), ids.count == markers.count {
                        for (marker, id) in zip(markers, ids) { _acknowledged[marker] = id }
                    }
                }
                if reply == nil { usleep(2_000) }
            }
            done.signal()
        }
    }

    func end() {
        lock.withLock { running = false }
        finished.wait()
    }

    /// One request: a single message, a JSON array or NDJSON of 2 to 40 messages; one reading in
    /// twenty has an unparseable time and must end up dead-lettered.
    private func nextRequest() -> ([String], [String: String], Data) {
        lock.lock()
        defer { lock.unlock() }
        let shape = Int.random(in: 0..<3, using: &random)
        let count = shape == 0 ? 1 : Int.random(in: 2...40, using: &random)
        var markers: [String] = []
        var messages: [String] = []
        for _ in 0..<count {
            counter += 1
            let marker = "m\(counter)"
            markers.append(marker)
            var message = Pipeline.vitals(marker, device: "monitor-\(counter % 5)", second: counter % 3600, heartRate: 50 + counter % 80)
            if Int.random(in: 0..<20, using: &random) == 0 {
                message = message.replacingOccurrences(of: "2026-11-27T", with: "not-a-time-")
            }
            messages.append(message)
        }
        switch shape {
        case 0: return (markers, Pipeline.json, Data(messages[0].utf8))
        case 1: return (markers, Pipeline.json, Data(("[" + messages.joined(separator: ",") + "]").utf8))
        default: return (markers, Pipeline.ndjson, Data(messages.joined(separator: "\n").utf8))
        }
    }
}
