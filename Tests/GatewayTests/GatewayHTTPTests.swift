import Audit
import EdgeCore
import Foundation
import JSONQuery
import Simulator
import Store
import XCTest
@testable import Gateway

/// The local API on a real loopback port (port 0: any free one), with the real store.
final class GatewayHTTPTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let profiles = repositoryRoot.appendingPathComponent("device-profiles").path
    static let clock: @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: 1_764_000_000_000) }

    static let vitals = #"{"deviceId": "monitor-1", "patientId": "patient-1", "measuredAt": "2025-11-24T10:00:00Z", "heartRate": 72, "spo2": 97, "systolic": 120, "diastolic": 80, "temperature": 36.8}"#

    final class Harness: @unchecked Sendable {
        let directory: TemporaryDirectory
        let gateway: Gateway
        let client: LoopbackHTTPClient
        let task: Task<Void, any Error>
        let storePath: String
        /// The key the gateway created beside its store.
        let encryption: @Sendable () throws -> StoreEncryption

        init(store: String = "", demo: Bool = false) async throws {
            directory = try TemporaryDirectory()
            let yaml = """
                dataDir: \(directory.path)
                demo: \(demo)
                http:
                  listen: 127.0.0.1:0
                  maxBodySize: 4KiB
                store: {\(store)}
                profiles:
                  directory: \(GatewayHTTPTests.profiles)
                  access:
                    demo-vitals: [ward]
                clients:
                  ward: {tokenSHA256: \(GatewayLauncher.tokenHash("ward-token"))}
                  other: {tokenSHA256: \(GatewayLauncher.tokenHash("other-token"))}
                  nurse: {tokenSHA256: \(GatewayLauncher.tokenHash("nurse-token")), roles: [viewer]}
                  technician: {tokenSHA256: \(GatewayLauncher.tokenHash("technician-token")), roles: [operator]}
                  auditor: {tokenSHA256: \(GatewayLauncher.tokenHash("auditor-token")), roles: [auditor]}
                  admin: {tokenSHA256: \(GatewayLauncher.tokenHash("admin-token")), roles: [admin]}
                mapping: {batchSize: 50}
                """
            let configuration = try GatewayConfiguration.decode(yaml: yaml, file: "test.yaml", baseDirectory: directory.path)
            let catalog = try DeviceProfileCatalog.load(directory: configuration.profiles.directory)
            let gateway = try Gateway(configuration: configuration, catalog: catalog, now: GatewayHTTPTests.clock)
            self.gateway = gateway
            storePath = configuration.storePath
            encryption = { try configuration.storeEncryption(create: false) }
            let (addresses, continuation) = AsyncStream.makeStream(of: ListenAddress.self)
            task = Task {
                try await gateway.run(handlesSignals: false, onListening: { continuation.yield($0) })
            }
            var iterator = addresses.makeAsyncIterator()
            guard let address = await iterator.next() else { throw LoopbackHTTPClient.Failure(message: "server did not start") }
            client = LoopbackHTTPClient(host: address.host, port: address.port)
        }

        /// Graceful shutdown, as SIGTERM does it; the store is closed when this returns.
        func stop() async {
            await gateway.shutdown()
            do {
                try await task.value
            } catch {
                XCTFail("the gateway did not stop cleanly: \(error)")
            }
        }

        func post(
            _ body: String, profile: String = "demo-vitals", token: String? = "ward-token",
            contentType: String = "application/json", extraHeaders: [(String, String)] = []
        ) async throws -> LoopbackHTTPClient.Reply {
            var headers = [("Content-Type", contentType)] + extraHeaders
            if let token { headers.append(("Authorization", "Bearer " + token)) }
            return try await client.send("POST", "/ingest/" + profile, headers: headers, body: Array(body.utf8))
        }

        /// A GET as the `nurse` (viewer) unless another token, or none, is given.
        func get(_ path: String, token: String? = "nurse-token") async throws -> LoopbackHTTPClient.Reply {
            try await send("GET", path, token: token)
        }

        func send(_ method: String, _ path: String, token: String?) async throws -> LoopbackHTTPClient.Reply {
            try await client.send(method, path, headers: token.map { [("Authorization", "Bearer " + $0)] } ?? [])
        }

        func statistics() async throws -> StoreStatistics {
            let reader = try StoreReader.openReadOnly(path: storePath, encryption: encryption())
            defer { try? reader.close() }
            return try await reader.statistics(at: GatewayHTTPTests.clock())
        }

        /// Waits (bounded) until the mapping stage has emptied the inbox.
        func waitForMapping() async throws {
            for _ in 0..<100 {
                if try await statistics().inbox == 0 { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            XCTFail("the mapping stage did not empty the inbox")
        }
    }

    func json(_ reply: LoopbackHTTPClient.Reply) throws -> JSONValue {
        try JSONValue(parsing: reply.body)
    }

    func testAcceptedOnlyAfterCommitAndTheRowIsInTheStore() async throws {
        let harness = try await Harness()
        let reply = try await harness.post(Self.vitals)
        XCTAssertEqual(reply.status, 202, reply.text)
        XCTAssertEqual(try json(reply), ["accepted": 1, "ids": [1]])
        // Another connection to the database sees the committed row right after the 202.
        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.received, 1)
        await harness.stop()
        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        let verification = try await JournalVerifier().verify(reader)
        XCTAssertTrue(verification.isIntact, "\(verification)")
        try reader.close()
    }

    func testArrayAndNDJSONBodies() async throws {
        let harness = try await Harness()
        let array = try await harness.post("[\(Self.vitals), \(Self.vitals), \(Self.vitals)]")
        XCTAssertEqual(array.status, 202, array.text)
        XCTAssertEqual(try json(array)["accepted"], 3)
        let lines = try await harness.post("\(Self.vitals)\n\(Self.vitals)\n", contentType: "application/x-ndjson")
        XCTAssertEqual(lines.status, 202, lines.text)
        XCTAssertEqual(try json(lines), ["accepted": 2, "ids": [4, 5]])
        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.received, 5)
        await harness.stop()
    }

    func testRefusals() async throws {
        let harness = try await Harness()
        let malformed = try await harness.post("{\"deviceId\": \"a\",\n \"heartRate\": }")
        XCTAssertEqual(malformed.status, 400)
        XCTAssertEqual(try json(malformed)["line"], 2)
        XCTAssertNotNil(try json(malformed)["column"])
        let badElement = try await harness.post("[\(Self.vitals), 3]")
        XCTAssertEqual(badElement.status, 400)
        XCTAssertEqual(try json(badElement)["element"], 1)

        let unknown = try await harness.post(Self.vitals, profile: "no-such-profile")
        XCTAssertEqual(unknown.status, 404)

        let big = String(repeating: " ", count: 5000) + Self.vitals
        let tooLarge = try await harness.post(big)
        XCTAssertEqual(tooLarge.status, 413, "Content-Length over the limit is refused before reading")
        let streamed = try await harness.post(big, extraHeaders: [("Transfer-Encoding", "chunked")])
        XCTAssertEqual(streamed.status, 413, "a body without a length is counted while it streams")

        let mediaType = try await harness.post(Self.vitals, contentType: "application/fhir+json")
        XCTAssertEqual(mediaType.status, 415)
        let missingType = try await harness.post(Self.vitals, contentType: "text/plain")
        XCTAssertEqual(missingType.status, 415)

        let noToken = try await harness.post(Self.vitals, token: nil)
        XCTAssertEqual(noToken.status, 401)
        XCTAssertEqual(noToken.headers["www-authenticate"], "Bearer")
        let badToken = try await harness.post(Self.vitals, token: "guess")
        XCTAssertEqual(badToken.status, 401)
        let forbidden = try await harness.post(Self.vitals, token: "other-token")
        XCTAssertEqual(forbidden.status, 403)

        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.received, 0, "nothing refused reaches the store")
        let metrics = try await harness.get("/metrics").text
        XCTAssertTrue(metrics.contains(#"fhir_edge_rejected_total{reason="unauthorized"} 2"#), metrics)
        XCTAssertTrue(metrics.contains(#"fhir_edge_http_requests_total{route="/ingest/{profile}",status="415"} 2"#), metrics)
        await harness.stop()
    }

    func testServiceUnavailableWithRetryAfterAtTheHighWaterMark() async throws {
        let harness = try await Harness(store: "maxBytes: 2KiB, highWaterMark: 100%")
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<20 {
            let reply = try await harness.post(Self.vitals)
            statuses.append(reply.status)
            if reply.status == 503 {
                retryAfter = reply.headers["retry-after"]
                XCTAssertEqual(try json(reply)["error"], "high-water-mark")
                break
            }
        }
        XCTAssertEqual(statuses.last, 503, "\(statuses)")
        XCTAssertTrue(statuses.dropLast().allSatisfy { $0 == 202 }, "\(statuses)")
        XCTAssertEqual(retryAfter, "5")
        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.received, Int64(statuses.count - 1), "every 202 is stored, the refused one is not")
        XCTAssertGreaterThan(statistics.refused, 0)
        let metrics = try await harness.get("/metrics").text
        XCTAssertTrue(metrics.contains(#"fhir_edge_rejected_total{reason="high-water-mark"} 1"#), metrics)
        await harness.stop()
        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        let kinds = try await reader.journal(after: 0).map(\.entry.kind)
        XCTAssertTrue(kinds.contains(.highWaterReached), "the refusal is journaled")
        try reader.close()
    }

    func testMessagesAreMappedToTheOutboxOrDeadLettered() async throws {
        let harness = try await Harness()
        let broken = #"{"deviceId": "monitor-2", "patientId": "patient-2", "measuredAt": "not a time", "heartRate": 70}"#
        let reply = try await harness.post("[\(Self.vitals), \(broken)]")
        XCTAssertEqual(reply.status, 202, reply.text)
        try await harness.waitForMapping()
        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.deadLetters, 1)
        // Four Observations (heart rate, SpO2, blood pressure, temperature) plus Patient and Device.
        XCTAssertEqual(statistics.outboxPending, 6)
        let status = try json(try await harness.get("/status"))
        let devices = status["devices"]?.arrayValue ?? []
        XCTAssertEqual(devices.compactMap { $0["deviceId"]?.stringValue }, ["monitor-1", "monitor-2"])
        XCTAssertEqual(devices.first?["messages"], 1)
        XCTAssertEqual(devices.last?["failures"], 1)
        XCTAssertEqual(devices.last?["lastError"], "IncompatibleDataException")
        XCTAssertEqual(status["counts"]?["deadLettered"], 1)
        XCTAssertEqual(status["counts"]?["mapped"], 1)
        XCTAssertFalse(status.description.contains("patient-1"), "no patient data on /status")
        await harness.stop()
    }

    func testEveryRouteAnswersByRole() async throws {
        let harness = try await Harness()
        // One dead letter to replay and one to discard.
        _ = try await harness.post(#"[{"deviceId":"m1","measuredAt":"2026-11-27T08:00:00Z","heartRate":"fast"},"# +
                                   #"{"deviceId":"m2","measuredAt":"2026-11-27T08:00:01Z","heartRate":"slow"}]"#)
        try await harness.waitForMapping()
        let routes: [(method: String, path: String, action: String)] = [
            ("GET", "/status", "view"), ("GET", "/metrics", "view"), ("GET", "/deadletters", "operate"),
            ("POST", "/deadletters/999/replay", "operate"), ("POST", "/deadletters/999/discard", "operate"),
            ("GET", "/journal", "audit"), ("GET", "/journal/verify", "audit"),
        ]
        let allowed: [String: Set<String>] = [
            "nurse-token": ["view"], "technician-token": ["view", "operate"], "auditor-token": ["audit"],
            "admin-token": ["view", "operate", "audit"], "ward-token": [],
        ]
        for (token, actions) in allowed.sorted(by: { $0.key < $1.key }) {
            for route in routes {
                let reply = try await harness.send(route.method, route.path, token: token)
                if actions.contains(route.action) {
                    XCTAssertTrue([200, 404].contains(reply.status), "\(token) \(route.method) \(route.path): \(reply.status) \(reply.text)")
                    XCTAssertFalse(route.path.contains("999") && reply.status != 404, "an unknown dead letter is 404")
                } else {
                    XCTAssertEqual(reply.status, 403, "\(token) \(route.method) \(route.path): \(reply.text)")
                    XCTAssertTrue(reply.text.contains("clients.<id>.roles"), reply.text)
                }
            }
        }
        for route in routes {
            let anonymous = try await harness.send(route.method, route.path, token: nil)
            XCTAssertEqual(anonymous.status, 401, "\(route.path) without a token")
            let wrong = try await harness.send(route.method, route.path, token: "not-a-token")
            XCTAssertEqual(wrong.status, 401, "\(route.path) with an unknown token")
        }
        let health = try await harness.get("/health", token: nil)
        XCTAssertEqual(health.status, 200, "health stays open")
        XCTAssertEqual(try json(health), ["status": "ok"], "and tells only up or down")

        // The operator's actions act: list, replay one, discard the other.
        let list = try json(try await harness.get("/deadletters", token: "technician-token"))
        let ids = list["deadLetters"]?.arrayValue?.compactMap { $0["id"]?.doubleValue }.map { Int($0) } ?? []
        XCTAssertEqual(ids.count, 2, "\(list)")
        XCTAssertFalse(list.description.contains("fast"), "no payloads in the list")
        let replay = try await harness.send("POST", "/deadletters/\(ids[0])/replay", token: "technician-token")
        XCTAssertEqual(replay.status, 200, replay.text)
        XCTAssertEqual(try json(replay)["replayed"], 1)
        let discard = try await harness.send("POST", "/deadletters/\(ids[1])/discard", token: "admin-token")
        XCTAssertEqual(discard.status, 200, discard.text)
        let verify = try json(try await harness.get("/journal/verify", token: "auditor-token"))
        XCTAssertEqual(verify["intact"], true, "\(verify)")
        let journal = try json(try await harness.get("/journal?limit=1000", token: "auditor-token"))
        let kinds = journal["entries"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
        XCTAssertTrue(kinds.contains("deadletter.replayed"), "\(kinds)")
        XCTAssertTrue(kinds.contains("deadletter.discarded"), "\(kinds)")
        await harness.stop()
    }

    func testRefusalsAndAnonymousProbesAreJournaledAggregated() async throws {
        let harness = try await Harness()
        for _ in 0..<50 { _ = try await harness.get("/status", token: "not-a-token") }
        for _ in 0..<30 { _ = try await harness.get("/health", token: nil) }
        await harness.stop()
        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        defer { try? reader.close() }
        let calls = try await reader.journal(after: 0).filter { $0.entry.kind == AccessJournal.kind }
        let refused = calls.filter { $0.entry.details["route"] == "/status" && $0.entry.details["status"] == 401 }
        XCTAssertEqual(refused.count, 2, "the first refusal as it happened, the other 49 as one entry")
        XCTAssertEqual(refused.last?.entry.details["count"], 49)
        let probes = calls.filter { $0.entry.details["route"] == "/health" }
        XCTAssertEqual(probes.map { $0.entry.details["count"] ?? 1 }, [1, 29])
        XCTAssertEqual(probes.first?.entry.actor, "http:anonymous")
    }

    func testDemoModeOpensThePageToLoopbackButNotTheJournal() async throws {
        let harness = try await Harness(demo: true)
        let status = try await harness.get("/status", token: nil)
        XCTAssertEqual(status.status, 200)
        let deadLetters = try await harness.get("/deadletters", token: nil)
        XCTAssertEqual(deadLetters.status, 200)
        let journal = try await harness.get("/journal", token: nil)
        XCTAssertEqual(journal.status, 403)
        await harness.stop()
    }

    func testHealthMetricsAndStatus() async throws {
        let harness = try await Harness()
        _ = try await harness.post(Self.vitals)
        try await harness.waitForMapping()
        let health = try await harness.get("/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try json(health)["status"], "ok")
        let metrics = try await harness.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain") ?? false)
        let samples = try PrometheusParsing.parse(metrics.text)
        XCTAssertEqual(samples["fhir_edge_received_messages_total{profile=\"demo-vitals\"}"], 1)
        XCTAssertEqual(samples["fhir_edge_mapped_messages_total"], 1)
        XCTAssertEqual(samples["fhir_edge_observations_total"], 4)
        XCTAssertEqual(samples["fhir_edge_inbox_messages"], 0)
        XCTAssertEqual(samples["fhir_edge_outbox_pending_resources"], 6)
        XCTAssertEqual(samples["fhir_edge_store_up"], 1)
        XCTAssertNotNil(samples["fhir_edge_oldest_unsent_age_seconds"])
        XCTAssertNotNil(samples["fhir_edge_store_bytes"])
        XCTAssertEqual(samples["fhir_edge_http_requests_total{route=\"/health\",status=\"200\"}"], 1)
        let missing = try await harness.get("/nowhere")
        XCTAssertEqual(missing.status, 404)
        await harness.stop()
        // Every API call is journaled with its client, route and status, flushed before the store closed.
        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        let calls = try await reader.journal(after: 0).filter { $0.entry.kind == AccessJournal.kind }
        XCTAssertEqual(calls.count, 4)
        XCTAssertEqual(calls.first?.entry.actor, "http:ward")
        XCTAssertEqual(calls.first?.entry.details["status"], 202)
        XCTAssertEqual(calls.last?.entry.details["status"], 404)
        try reader.close()
    }

    func testSimulationPushesSeededVitalsAndCountsAcceptances() async throws {
        let harness = try await Harness(demo: true)
        let port = harness.client.port
        let simulation = Simulation(host: "127.0.0.1", port: port, devices: 2, count: 5, batch: 3, seed: 7)
        let report = await simulation.run(now: GatewayHTTPTests.clock)
        XCTAssertEqual(report.messages, 10)
        XCTAssertEqual(report.requests, 4)
        XCTAssertEqual(report.accepted, 10)
        XCTAssertEqual(report.statuses, [202: 4])
        try await harness.waitForMapping()
        let statistics = try await harness.statistics()
        XCTAssertEqual(statistics.received, 10)
        XCTAssertEqual(statistics.deadLetters, 0, "simulated messages fit the demo templates")
        let refused = await Simulation(host: "127.0.0.1", port: port, profile: "no-such-profile", devices: 1, count: 2).run(now: GatewayHTTPTests.clock)
        XCTAssertEqual(refused.accepted, 0)
        XCTAssertEqual(refused.statuses, [401: 2], "only demo-vitals is open without a token")
        await harness.stop()
    }

    func testDemoModeTakesDemoVitalsWithoutTokenFromLoopback() async throws {
        let harness = try await Harness(demo: true)
        let reply = try await harness.post(Self.vitals, token: nil)
        XCTAssertEqual(reply.status, 202, reply.text)
        let wrongToken = try await harness.post(Self.vitals, token: "guess")
        XCTAssertEqual(wrongToken.status, 401, "a token that is sent is checked")
        await harness.stop()
    }
}

/// Parses Prometheus text exposition strictly enough to catch malformed output.
enum PrometheusParsing {
    struct Malformed: Error, CustomStringConvertible {
        var line: String
        var description: String { "malformed metrics line: \(line)" }
    }

    static func parse(_ text: String) throws -> [String: Double] {
        var samples: [String: Double] = [:]
        var typed = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge"].contains(parts[3]) else { throw Malformed(line: String(line)) }
                typed.insert(String(parts[2]))
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw Malformed(line: String(line))
            }
            let series = String(line[..<space])
            let name = series.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
            guard !name.isEmpty, typed.contains(String(name)) else { throw Malformed(line: String(line)) }
            let labels = series.dropFirst(name.count)
            if !labels.isEmpty {
                guard labels.hasPrefix("{"), labels.hasSuffix("}") else { throw Malformed(line: String(line)) }
                for pair in labels.dropFirst().dropLast().split(separator: ",") {
                    guard pair.contains("=\""), pair.hasSuffix("\"") else { throw Malformed(line: String(line)) }
                }
            }
            samples[series] = value
        }
        return samples
    }
}
