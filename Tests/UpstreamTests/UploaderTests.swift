import EdgeCore
import FHIRModel
import JSONQuery
import Store
import TestSupport
import XCTest
@testable import Upstream

final class UploaderTests: XCTestCase {
    func testDrainDeliversEveryResourceInBundlesAndRecordsTheServerVersion() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...25)
        let uploader = fixture.uploader(UploadSettings(batchSize: 10))
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let stored = await fixture.server.resources
        XCTAssertEqual(Set(stored.keys), Set((1...25).map { "Observation/obs-\($0)" }))
        let bundles = await fixture.server.bundleRequests
        XCTAssertEqual(bundles, 3)
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.outboxPending, 0)
        XCTAssertEqual(statistics.outboxSent, 25)
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.entriesAccepted, 25)
        XCTAssertEqual(metrics.requests, 3)
        XCTAssertEqual(metrics.retries, 0)
        let kinds = try await fixture.journalKinds()
        XCTAssertEqual(kinds.filter { $0 == "upload.attempted" }.count, 3, "every attempt is journaled")
        XCTAssertEqual(kinds.filter { $0 == "outbox.sent" }.count, 3)
        // The bundle is a batch of PUTs by deterministic id.
        let first = await fixture.server.requests.first
        let bundle = try Bundle(json: JSONValue(parsing: XCTUnwrap(first).body))
        XCTAssertEqual(bundle.type, "batch")
        XCTAssertEqual(bundle.entry.first?.request, Bundle.Request(method: "PUT", url: "Observation/obs-1"))
    }

    func testARejectedResourceGoesToDeadLettersAndTheRestFlowOn() async throws {
        for type in UploadSettings.BundleType.allCases {
            let server = FakeFHIRServer(refuse: { json in
                if case .object(let object) = json, object["id"] == "obs-4" { return "Observation.code: required" }
                return nil
            })
            let fixture = try UploadFixture(server: server)
            try await fixture.enqueue(observations: 1...6)
            let uploader = fixture.uploader(UploadSettings(bundleType: type, batchSize: 10))
            let drained = try await uploader.drain(timeout: .seconds(60))
            XCTAssertTrue(drained, "\(type)")
            let keys = await server.resources.keys.sorted()
            XCTAssertEqual(keys, [1, 2, 3, 5, 6].map { "Observation/obs-\($0)" }, "\(type)")
            let dead = try await fixture.store.reader.deadLetters()
            XCTAssertEqual(dead.count, 1, "\(type)")
            XCTAssertEqual(dead.first?.resourceID, "obs-4")
            XCTAssertEqual(dead.first?.errorType, "upstream-422")
            XCTAssertEqual(dead.first?.errorMessage.contains("Observation.code: required"), true, dead.first?.errorMessage ?? "")
            let kinds = try await fixture.journalKinds()
            XCTAssertTrue(kinds.contains("outbox.rejected"))
            let metrics = await uploader.metrics()
            XCTAssertEqual(metrics.entriesRejected, 1)
            XCTAssertEqual(metrics.entriesAccepted, 5)
        }
    }

    func testAnOutageIsRiddenOutWithGrowingBackoffThenEverythingIsDelivered() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...5)
        await fixture.server.inject([.transport(.connectionRefused), .status(503), .transport(.timeout), .status(500)])
        let policy = RetryPolicy(base: .seconds(1), cap: .seconds(8))
        let uploader = fixture.uploader(UploadSettings(batchSize: 10, retry: policy))
        let drained = try await uploader.drain(timeout: .seconds(600))
        XCTAssertTrue(drained)
        let stored = await fixture.server.resources.count
        XCTAssertEqual(stored, 5)
        let pauses = fixture.clock.sleeps
        XCTAssertGreaterThanOrEqual(pauses.count, 4)
        for (n, pause) in pauses.prefix(4).enumerated() {
            XCTAssertLessThanOrEqual(pause, UploadBackoff.ceiling(policy, failures: n + 1), "pause \(n + 1)")
        }
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.consecutiveFailures, 0)
        XCTAssertEqual(metrics.requests, 5)
        XCTAssertEqual(metrics.retries, 4)
        XCTAssertNil(metrics.backoffUntil)
    }

    func testDrainGivesUpAtItsDeadlineEvenWhenTheServerAsksForALongerWait() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...2)
        await fixture.server.inject([.status(503, retryAfter: "3600")])
        let started = fixture.clock.now
        let drained = try await fixture.uploader().drain(timeout: .seconds(10))
        XCTAssertFalse(drained)
        XCTAssertEqual(fixture.clock.now.millisecondsSinceEpoch - started.millisecondsSinceEpoch, 10_000)
        let pending = try await fixture.store.statistics().outboxPending
        XCTAssertEqual(pending, 2, "kept, not lost")
    }

    func testSingleModeSendsOneRESTCallPerResourceAndSettlesEachOnItsOwn() async throws {
        let server = FakeFHIRServer(refuse: { json in
            if case .object(let object) = json, object["id"] == "obs-2" { return "bad" }
            return nil
        })
        let fixture = try UploadFixture(server: server)
        try await fixture.enqueue(observations: 1...3)
        let uploader = fixture.uploader(UploadSettings(bundleType: .single))
        let report = try await uploader.uploadOnce()
        XCTAssertEqual(report, RoundReport(leased: 3, accepted: 2, rejected: 1))
        let requests = await server.requests
        XCTAssertEqual(requests.map { "\($0.method) \($0.url.dropFirst(FakeFHIRServer.base.count))" },
                       ["PUT /Observation/obs-1", "PUT /Observation/obs-2", "PUT /Observation/obs-3"])
        let keys = await server.resources.keys.sorted()
        XCTAssertEqual(keys, ["Observation/obs-1", "Observation/obs-3"])
    }

    func testThrottlingWaitsAsLongAsRetryAfterAsks() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...2)
        await fixture.server.inject([.status(429, retryAfter: "42")])
        let uploader = fixture.uploader()
        let first = try await uploader.uploadOnce()
        XCTAssertEqual(first, RoundReport(leased: 2, kept: 2, pause: .seconds(42)))
        // Not leasable before the server's time has come.
        fixture.clock.advance(.seconds(41))
        let early = try await uploader.uploadOnce()
        XCTAssertEqual(early.leased, 0)
        fixture.clock.advance(.seconds(1))
        let late = try await uploader.uploadOnce()
        XCTAssertEqual(late, RoundReport(leased: 2, accepted: 2))
    }

    func testALostReplyIsResentAndPutKeepsTheServerAtOneCopy() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...4)
        await fixture.server.inject([.dropReply])
        let uploader = fixture.uploader()
        let drained = try await uploader.drain(timeout: .seconds(600))
        XCTAssertTrue(drained)
        let resources = await fixture.server.resources
        XCTAssertEqual(resources.count, 4)
        XCTAssertTrue(resources.values.allSatisfy { $0.version == 2 }, "sent twice, stored once, as a second version")
        let bundles = await fixture.server.bundleRequests
        XCTAssertEqual(bundles, 2)
    }

    func testConditionalCreateSurvivesALostReplyWithoutDuplicates() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...3)
        await fixture.server.inject([.dropReply])
        let uploader = fixture.uploader(UploadSettings(bundleType: .transaction, idempotency: .conditionalCreate))
        let drained = try await uploader.drain(timeout: .seconds(600))
        XCTAssertTrue(drained)
        let resources = await fixture.server.resources
        XCTAssertEqual(resources.count, 3, "the second POST matched ifNoneExist instead of creating again")
        XCTAssertTrue(resources.keys.allSatisfy { $0.hasPrefix("Observation/srv-") })
        let first = await fixture.server.requests.first
        let bundle = try Bundle(json: JSONValue(parsing: XCTUnwrap(first).body))
        XCTAssertEqual(bundle.entry.first?.request?.ifNoneExist, "identifier=urn:test|reading-1")
    }

    func testAfterACrashExpiredLeasesAreSentAgainAndPutMakesItIdempotent() async throws {
        let fixture = try UploadFixture()
        try await fixture.enqueue(observations: 1...6)
        // A previous uploader leased everything and delivered it, then died before settling.
        let settings = UploadSettings(batchSize: 10, leaseDuration: .seconds(30))
        let lease = try await fixture.store.leaseOutbox(limit: 10, for: settings.leaseDuration)
        XCTAssertEqual(lease.items.count, 6)
        let crashed = EntryBuilder(idempotency: .put, baseURL: FakeFHIRServer.base).bundle(lease.items, type: .batch)
        _ = try await fixture.server.send(UpstreamRequest(method: "POST", url: FakeFHIRServer.base, body: FakeFHIRServer.bytes(crashed.json)))

        let uploader = fixture.uploader(settings)
        let during = try await uploader.uploadOnce()
        XCTAssertEqual(during.leased, 0, "a live lease is never taken over")
        fixture.clock.advance(.seconds(31))
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let resources = await fixture.server.resources
        XCTAssertEqual(resources.count, 6)
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.outboxSent, 6)
    }

    func testSampledDataIsMergedIntoTheStoredObservationWithIfMatch() async throws {
        let fixture = try UploadFixture()
        let sampled = { (data: String) in
            #","effectivePeriod":{"start":"2023-11-14T22:00:00.000Z","end":"2023-11-14T22:00:04.000Z"},"code":{"text":"hr"},"valueSampledData":{"origin":{"value":0},"period":1000,"dimensions":1,"data":"\#(data)"}"#
        }
        let original = UploadFixture.observation(1, extra: sampled("1 E E E E"))
        await fixture.server.store("Observation/obs-1", try JSONValue(parsing: original.body), version: 3)
        try await fixture.enqueue([UploadFixture.observation(1, extra: sampled("E E 3 E E"))])
        let uploader = fixture.uploader()
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let stored = await fixture.server.resources["Observation/obs-1"]
        let result = try XCTUnwrap(stored)
        XCTAssertEqual(result.version, 4)
        let observation = try Observation(json: result.json)
        guard case .sampledData(let data)? = observation.value else { return XCTFail("expected SampledData") }
        XCTAssertEqual(data.data, "1 E 3 E E")
        XCTAssertEqual(observation.status, .amended)
        let requests = await fixture.server.requests
        XCTAssertEqual(requests.map(\.method), ["GET", "PUT"])
        XCTAssertEqual(requests.last?.headers["If-Match"], "W/\"3\"")
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.outboxSent, 1)
    }

    func testAMergeThatLosesARaceReadsAndMergesAgain() async throws {
        let fixture = try UploadFixture()
        let sampled = { (data: String) in
            #","effectivePeriod":{"start":"2023-11-14T22:00:00.000Z","end":"2023-11-14T22:00:02.000Z"},"code":{"text":"hr"},"valueSampledData":{"origin":{"value":0},"period":1000,"dimensions":1,"data":"\#(data)"}"#
        }
        await fixture.server.store("Observation/obs-1", try JSONValue(parsing: UploadFixture.observation(1, extra: sampled("1 E E")).body))
        try await fixture.enqueue([UploadFixture.observation(1, extra: sampled("E 2 E"))])
        // GET passes, the PUT loses the race once.
        await fixture.server.inject([.pass, .preconditionFailed])
        let uploader = fixture.uploader()
        _ = try await uploader.uploadOnce()
        let requests = await fixture.server.requests.map(\.method)
        XCTAssertEqual(requests, ["GET", "PUT", "GET", "PUT"])
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.outboxSent, 1)
    }
}

final class UploaderMetricsTests: XCTestCase {
    func testPrometheusTextCarriesEveryCounterAndTheRemainingBackoff() {
        var metrics = UploaderMetrics()
        metrics.requests = 7
        metrics.retries = 2
        metrics.entriesAccepted = 90
        metrics.entriesRejected = 1
        metrics.entriesKept = 9
        metrics.consecutiveFailures = 3
        let now = Timestamp(millisecondsSinceEpoch: 1_000_000)
        metrics.backoffUntil = now.adding(milliseconds: 2_500)
        metrics.outboxPending = 12
        metrics.oldestUnsentAge = .seconds(40)
        let text = metrics.prometheusText(now: now)
        for line in [
            "fhir_edge_upstream_requests_total 7", "fhir_edge_upstream_retries_total 2",
            "fhir_edge_upstream_entries_total{outcome=\"accepted\"} 90", "fhir_edge_upstream_entries_total{outcome=\"rejected\"} 1",
            "fhir_edge_upstream_entries_total{outcome=\"kept\"} 9", "fhir_edge_upstream_consecutive_failures 3",
            "fhir_edge_upstream_backoff_seconds 2.5", "fhir_edge_upstream_pending_resources 12",
            "fhir_edge_upstream_oldest_unsent_age_seconds 40",
        ] {
            XCTAssertTrue(text.contains(line + "\n"), "missing \(line) in\n\(text)")
        }
    }
}
