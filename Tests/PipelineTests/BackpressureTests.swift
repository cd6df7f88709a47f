import Audit
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// At the store's high-water mark ingest answers 503 with Retry-After and keeps what it had;
/// once uploads catch up, synced data is evicted and ingest answers 202 again.
///
/// What drains a full store: mapping first (a mapped message's raw payload is synced once its
/// resources are all in the outbox), then uploads (sent resources are synced and evicted on
/// demand). Without an upstream, unsynced outbox resources never drain by themselves, which is
/// the point: they are refused room, never evicted. This test plays the uploader through the
/// store's lease/settle API from a second process, as the upstream stage does.
final class BackpressureTests: XCTestCase {
    func testFullStoreAnswers503ThenAcceptsAgainAfterUploads() async throws {
        let directory = try temporaryDirectory("backpressure")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            store:
              maxBytes: 1MiB
              highWaterMark: 48KiB
              evictionPolicy: refuse
              journal:
                maxBytes: 50%
            profiles:
              directory: \(Conformance.packageRoot.appendingPathComponent("device-profiles").path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        var counter = 0
        func post() throws -> LoopbackHTTP.Reply {
            var messages: [String] = []
            for _ in 0..<10 {
                counter += 1
                messages.append(Pipeline.vitals("b\(counter)", device: "monitor-\(counter % 7)", second: counter))
            }
            let body = Data(("[" + messages.joined(separator: ",") + "]").utf8)
            guard let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json, body: body) else {
                throw DaemonProcess.Failure(description: "no answer: \(daemon.log.suffix(2000))")
            }
            return reply
        }

        // Fill: a 503 after mapping has caught up means unsynced data fills the store.
        var acknowledged = 0
        var refusedMessages = 0
        var refusal: LoopbackHTTP.Reply?
        for _ in 0..<500 {
            let reply = try post()
            if reply.status == 202 {
                acknowledged += Pipeline.acceptedIDs(reply)?.count ?? 0
                continue
            }
            XCTAssertEqual(reply.status, 503, reply.text)
            refusedMessages += 10
            let mapped = try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 }
            XCTAssertTrue(mapped)
            let again = try post()
            if again.status == 503 {
                refusedMessages += 10
                refusal = again
                break
            }
            XCTAssertEqual(again.status, 202, again.text)
            acknowledged += Pipeline.acceptedIDs(again)?.count ?? 0
        }
        let full = try XCTUnwrap(refusal, "the store never reached its high-water mark")
        XCTAssertEqual(full.headers["retry-after"], "5")
        XCTAssertEqual(full.headers["content-type"], "application/json")
        XCTAssertTrue(full.text.contains("\"error\":\"high-water-mark\""), full.text)
        let health = daemon.request("GET", "/health")
        XCTAssertEqual(health?.status, 200)
        XCTAssertTrue(health?.text.contains("\"status\":\"degraded\"") ?? false, "health tells intake is refused: \(health?.text ?? "")")
        let stats = try Pipeline.queueStats(data)
        XCTAssertEqual(Pipeline.integer(stats, "received"), Int64(acknowledged))
        XCTAssertEqual(Pipeline.integer(stats, "refused"), Int64(refusedMessages))
        XCTAssertGreaterThan(Pipeline.integer(stats, "outboxPending") ?? 0, 0)

        // Drain: upload everything (accepted by the "server"), from a second process's view.
        let uploaded = try await Self.uploadAll(storePath: daemon.storePath)
        XCTAssertGreaterThan(uploaded, 0)

        let accepted = try post()
        XCTAssertEqual(accepted.status, 202, "after uploads the store must accept again: \(accepted.text)")
        let ids = try XCTUnwrap(Pipeline.acceptedIDs(accepted))
        acknowledged += ids.count
        let after = try Pipeline.queueStats(data)
        XCTAssertEqual(Pipeline.integer(after, "received"), Int64(acknowledged), "nothing acknowledged went uncounted")
        XCTAssertEqual(Pipeline.integer(after, "deadLetters"), 0)
        XCTAssertEqual(after["atHighWaterMark"], .bool(false))
        daemon.stop()

        // Nothing was lost: the journal records the refusal and its end, the eviction was of synced
        // data only, and the chain verifies.
        let kinds = try Pipeline.sql(daemon.storePath, """
            SELECT kind, COUNT(*) FROM journal WHERE kind LIKE 'store.%' OR kind LIKE 'retention.%' GROUP BY kind ORDER BY kind;
            """)
        XCTAssertTrue(kinds.contains { $0.hasPrefix("store.highwater.reached|") }, "\(kinds)")
        XCTAssertTrue(kinds.contains { $0.hasPrefix("store.highwater.cleared|") }, "\(kinds)")
        XCTAssertTrue(kinds.contains { $0.hasPrefix("retention.evicted|") }, "\(kinds)")
        XCTAssertFalse(kinds.contains { $0.hasPrefix("store.evicted|") }, "unsynced data must never be evicted: \(kinds)")
        let present = try Pipeline.sql(daemon.storePath, "SELECT COUNT(*) FROM inbox WHERE id IN (\(ids.map(String.init).joined(separator: ",")));")
        XCTAssertEqual(present.first, String(ids.count))
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", data.path])
        XCTAssertEqual(verify.status, 0, verify.stdoutText)
    }

    /// Leases and accepts every pending resource, as an uploader whose server took them all.
    static func uploadAll(storePath: String) async throws -> Int {
        let directory = URL(fileURLWithPath: storePath).deletingLastPathComponent()
        let store = try Store(path: storePath, policy: .standard, chain: AuditChain(), now: Store.systemClock,
                              encryption: Pipeline.encryption(directory))
        defer { try? store.close() }
        var uploaded = 0
        while true {
            let lease = try await store.leaseOutbox(limit: 500, for: .seconds(60))
            if lease.items.isEmpty { return uploaded }
            let settlements = lease.items.map { OutboxSettlement($0.id, .accept(serverID: $0.resource.resourceID, serverVersion: "1")) }
            let report = try await store.settle(lease: lease.id, settlements, actor: "test-uploader")
            uploaded += report.accepted
        }
    }
}
