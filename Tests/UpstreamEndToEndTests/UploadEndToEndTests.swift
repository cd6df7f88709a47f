import Audit
import EdgeCore
import Foundation
import Store
import TestSupport
import Upstream
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The uploader against sekmet-fhir, through the fault-injecting proxy: every reading ends up on
/// the server exactly once whatever the link does, and a resource the server rejects goes to
/// dead letters while the rest flow on.
final class UploadEndToEndTests: XCTestCase {
    var work: URL!
    var server: FHIRServer!
    var proxy: PeerProcess!
    var store: Store?

    override func setUpWithError() throws {
        work = try temporaryDirectory("upstream-upload")
    }

    override func tearDownWithError() throws {
        try? store?.close()
        proxy?.stop()
        server?.stop()
        try? FileManager.default.removeItem(at: work)
    }

    /// sekmet with the proxy in front; nil (after a SKIP line) without the venv.
    private func start() throws -> Bool {
        guard let venv = TestVenv.directory() else { return false }
        server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        try server.start()
        proxy = try PeerProcess(script: "fault_proxy.py", arguments: ["--upstream", server.rootURL], venv: venv, directory: work)
        return true
    }

    private var proxyBase: String { "http://127.0.0.1:\(proxy.port)/fhir" }
    private var storePath: String { work.appendingPathComponent("data/fhir-edge.sqlite").path }

    private func openStore() throws -> Store {
        try FileManager.default.createDirectory(at: work.appendingPathComponent("data"), withIntermediateDirectories: true)
        let opened = try Store(path: storePath, policy: .standard, chain: AuditChain(), now: Store.systemClock,
                               encryption: storeEncryption(besideStore: storePath))
        store = opened
        return opened
    }

    private func uploader(_ store: Store, _ settings: UploadSettings = UploadSettings(batchSize: 10), timeout: Int = 3) -> Uploader {
        var settings = settings
        settings.retry = RetryPolicy(base: .milliseconds(100), cap: .seconds(1), retryAfterCap: .seconds(2))
        settings.linger = .milliseconds(10)
        let transport = CurlTransport(options: CurlTransport.Options(connectTimeout: .seconds(2), totalTimeout: .seconds(Int64(timeout))))
        return Uploader(store: store, client: FHIRClient(baseURL: proxyBase, transport: transport), settings: settings)
    }

    // MARK: resources

    static func patient(_ tag: String) -> OutboxResource {
        let body = #"{"resourceType":"Patient","id":"pat-\#(tag)","identifier":[{"system":"urn:fhir-edge:test:patient","value":"\#(tag)"}]}"#
        return OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: "pat-\(tag)", identityKey: "urn:fhir-edge:test:patient|\(tag)", body: body)
    }

    static func device(_ tag: String) -> OutboxResource {
        let body = #"{"resourceType":"Device","id":"dev-\#(tag)","identifier":[{"system":"urn:fhir-edge:test:device","value":"\#(tag)"}],"patient":{"reference":"Patient/pat-\#(tag)"}}"#
        return OutboxResource(inboxID: nil, resourceType: "Device", resourceID: "dev-\(tag)", identityKey: "urn:fhir-edge:test:device|\(tag)", body: body)
    }

    static func observation(_ n: Int, tag: String, extra: String = "") -> OutboxResource {
        let second = String(format: "%02d", n % 60)
        let minute = String(format: "%02d", (n / 60) % 60)
        let body = """
            {"resourceType":"Observation","id":"obs-\(tag)-\(n)","identifier":[{"system":"urn:fhir-edge:test:reading","value":"\(tag)-\(n)"}],\
            "status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},\
            "subject":{"reference":"Patient/pat-\(tag)"},"device":{"reference":"Device/dev-\(tag)"},\
            "effectiveDateTime":"2026-11-27T10:\(minute):\(second)Z",\
            "valueQuantity":{"value":\(60 + n % 40),"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}\(extra)}
            """
        return OutboxResource(
            inboxID: nil, resourceType: "Observation", resourceID: "obs-\(tag)-\(n)", identityKey: "urn:fhir-edge:test:reading|\(tag)-\(n)", body: body)
    }

    private func enqueue(_ store: Store, tag: String, readings: ClosedRange<Int>, identity: Bool = true) async throws {
        var resources = identity ? [Self.patient(tag), Self.device(tag)] : []
        resources += readings.map { Self.observation($0, tag: tag) }
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: resources))
    }

    /// Each reading is on the server exactly once (searched by its identifier), and so are the
    /// Patient and the Device.
    private func assertExactlyOnce(tag: String, readings: ClosedRange<Int>, _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for n in readings {
            let total = try server.count("Observation?identifier=urn:fhir-edge:test:reading|\(tag)-\(n)")
            XCTAssertEqual(total, 1, "\(context): reading \(tag)-\(n) is on the server \(total) times", file: file, line: line)
        }
        XCTAssertEqual(try server.count("Patient?identifier=urn:fhir-edge:test:patient|\(tag)"), 1, "\(context): Patient", file: file, line: line)
        XCTAssertEqual(try server.count("Device?identifier=urn:fhir-edge:test:device|\(tag)"), 1, "\(context): Device", file: file, line: line)
    }

    private func proxyStats() throws -> [String: Any] {
        try XCTUnwrap(proxy.json("GET", "/_proxy/stats") as? [String: Any])
    }

    // MARK: tests

    func testHappyPathWithEachBundleTypeAndIdempotencyScheme() async throws {
        guard try start() else { return }
        let store = try openStore()
        let combinations: [(UploadSettings.BundleType, UploadSettings.Idempotency)] = [
            (.batch, .put), (.transaction, .put), (.batch, .conditionalCreate), (.transaction, .conditionalCreate), (.single, .put),
        ]
        for (bundle, scheme) in combinations {
            let tag = "\(bundle.rawValue)-\(scheme.rawValue)"
            try await enqueue(store, tag: tag, readings: 1...40)
            let uploader = uploader(store, UploadSettings(bundleType: bundle, idempotency: scheme, batchSize: 15))
            let drained = try await uploader.drain(timeout: .seconds(60))
            XCTAssertTrue(drained, tag)
            try assertExactlyOnce(tag: tag, readings: 1...40, tag)
            if scheme == .put {
                // The Observations point at the Patient and Device the server holds.
                XCTAssertEqual(try server.count("Observation?subject=Patient/pat-\(tag)"), 40, tag)
                XCTAssertEqual(server.get("Device/dev-\(tag)")?.status, 200, tag)
            }
            let metrics = await uploader.metrics()
            XCTAssertEqual(metrics.entriesAccepted, 42, tag)
            XCTAssertEqual(metrics.entriesRejected, 0, tag)
        }
        let statistics = try await store.statistics()
        XCTAssertEqual(statistics.outboxPending, 0)
    }

    func testAnOutageIsRiddenOutAndNothingIsDeliveredTwice() async throws {
        guard try start() else { return }
        let store = try openStore()
        try await enqueue(store, tag: "outage", readings: 1...30)
        server.stop()
        let uploader = uploader(store)
        let duringOutage = try await uploader.drain(timeout: .seconds(3))
        XCTAssertFalse(duringOutage, "nothing can be delivered while the server is down")
        let down = await uploader.metrics()
        XCTAssertGreaterThan(down.entriesKept, 0, "kept for retry, not rejected")
        XCTAssertEqual(down.entriesRejected, 0)
        XCTAssertGreaterThan(down.outboxPending, 0)
        try server.start()
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        try assertExactlyOnce(tag: "outage", readings: 1...30, "after the outage")
    }

    func testEveryProxyFaultKindEndsWithEachReadingOnceOnTheServer() async throws {
        guard try start() else { return }
        let store = try openStore()
        let faults: [(String, [String: Any], UploadSettings)] = [
            ("429", ["kind": "status", "status": 429, "retryAfter": 1, "count": 2], UploadSettings(batchSize: 5)),
            ("500", ["kind": "status", "status": 500, "count": 2], UploadSettings(batchSize: 5)),
            ("503", ["kind": "status", "status": 503, "retryAfter": 1], UploadSettings(batchSize: 5)),
            ("delay", ["kind": "delay", "seconds": 4, "method": "POST"], UploadSettings(batchSize: 5)),
            ("reset", ["kind": "reset", "count": 2], UploadSettings(batchSize: 5)),
            ("drop-reply-put", ["kind": "drop-reply", "method": "POST", "count": 2], UploadSettings(batchSize: 5)),
            ("drop-reply-conditional", ["kind": "drop-reply", "method": "POST", "count": 2],
             UploadSettings(bundleType: .transaction, idempotency: .conditionalCreate, batchSize: 5)),
        ]
        for (name, fault, settings) in faults {
            try await enqueue(store, tag: name, readings: 1...12)
            _ = try proxy.json("POST", "/_proxy/faults", body: [fault])
            let before = try proxyStats()["faults"] as? [String: Int] ?? [:]
            let uploader = uploader(store, settings, timeout: 2)
            let drained = try await uploader.drain(timeout: .seconds(60))
            XCTAssertTrue(drained, name)
            let after = try proxyStats()
            let applied = (after["faults"] as? [String: Int] ?? [:])[fault["kind"] as? String ?? ""] ?? 0
            XCTAssertGreaterThan(applied, before[fault["kind"] as? String ?? ""] ?? 0, "\(name): the fault was injected")
            XCTAssertEqual((after["pending"] as? [Any])?.count, 0, "\(name): every planned fault was used")
            if name == "delay" { usleep(4_500_000) }  // let the late request reach the server before counting
            try assertExactlyOnce(tag: name, readings: 1...12, name)
            let metrics = await uploader.metrics()
            XCTAssertGreaterThan(metrics.retries + metrics.entriesKept, 0, "\(name): the uploader retried")
        }
    }

    func testARejectedResourceGoesToDeadLettersAndTheRestFlowOn() async throws {
        guard try start() else { return }
        let store = try openStore()
        for bundle in UploadSettings.BundleType.allCases {
            let tag = "reject-\(bundle.rawValue)"
            var resources = [Self.patient(tag), Self.device(tag)] + (1...9).map { Self.observation($0, tag: tag) }
            // sekmet rejects unknown elements (400 with an OperationOutcome).
            resources.insert(Self.observation(10, tag: tag, extra: #","colour":"blue""#), at: 6)
            try await store.completeMapping(MappingResult(inboxIDs: [], resources: resources))
            let uploader = uploader(store, UploadSettings(bundleType: bundle, batchSize: 20))
            let drained = try await uploader.drain(timeout: .seconds(60))
            XCTAssertTrue(drained, tag)
            try assertExactlyOnce(tag: tag, readings: 1...9, tag)
            XCTAssertEqual(try server.count("Observation?identifier=urn:fhir-edge:test:reading|\(tag)-10"), 0, tag)
            let dead = try await store.reader.deadLetters().filter { $0.resourceID == "obs-\(tag)-10" }
            XCTAssertEqual(dead.count, 1, "\(tag): the rejected Observation is a dead letter")
            XCTAssertTrue(dead.first?.errorMessage.contains("colour") ?? false, "\(tag): \(dead.first?.errorMessage ?? "")")
        }
        let all = try await store.reader.deadLetters()
        XCTAssertEqual(all.count, UploadSettings.BundleType.allCases.count, "only the rejected resources: \(all.map(\.resourceID))")
    }

    func testSIGKILLOfTheGatewayMidUploadLeavesEachReadingOnceOnTheServer() async throws {
        guard try start() else { return }
        let store = try openStore()
        try await enqueue(store, tag: "sigkill", readings: 1...20)
        try store.close()
        self.store = nil
        // The first bundle is held at the proxy, then reaches the server after the gateway is gone.
        _ = try proxy.json("POST", "/_proxy/faults", body: [["kind": "delay", "seconds": 3, "method": "POST"]])
        let arguments = [
            "upstream", "drain", "--data-dir", work.appendingPathComponent("data").path, "--url", proxyBase, "--batch-size", "50",
            "--timeout", "20", "--within", "60",
        ]
        let gateway = try ChildProcess(
            name: "fhir-edge", executable: CommandRunner.fhirEdge, arguments: arguments, directory: work, log: work.appendingPathComponent("drain-1.log"))
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, (try proxyStats()["faults"] as? [String: Int])?["delay"] == nil { usleep(50_000) }
        XCTAssertEqual((try proxyStats()["faults"] as? [String: Int])?["delay"], 1, "the upload is in flight: \(gateway.logText)")
        kill(gateway.pid, SIGKILL)
        gateway.stop(grace: 0)
        // The proxy forwards the held bundle once its delay is over; the server commits it and the
        // reply goes nowhere. Waiting for the commit itself, not for a fixed time past the delay.
        let committed = server.waitForCount("Observation?identifier=urn:fhir-edge:test:reading|sigkill-1", atLeast: 1, timeout: 30)
        XCTAssertEqual(committed, 1, "the server committed the first upload")

        let rerun = try CommandRunner.run(arguments, timeout: 90)
        XCTAssertEqual(rerun.status, 0, rerun.stdoutText + rerun.stderr)
        try assertExactlyOnce(tag: "sigkill", readings: 1...20, "after SIGKILL and a restart")
    }
}
