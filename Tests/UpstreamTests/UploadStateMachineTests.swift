import EdgeCore
import FHIRModel
import JSONQuery
import Store
import XCTest
@testable import Upstream

final class UploadStateMachineTests: XCTestCase {
    typealias Machine = UploadStateMachine<SplitMix64>
    let now = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
    let policy = RetryPolicy(base: .seconds(1), cap: .seconds(30), retryAfterCap: .seconds(600))

    func item(_ id: Int64, identity: String? = nil, attempts: Int = 1) -> OutboxItem {
        OutboxItem(id: OutboxID(id), resource: OutboxResource(
            inboxID: nil, resourceType: "Observation", resourceID: "o\(id)", identityKey: identity ?? "sys|\(id)",
            body: #"{"resourceType":"Observation","id":"o\#(id)"}"#), attempts: attempts)
    }

    func candidates(_ items: [OutboxItem]) -> [Machine.Candidate] {
        let builder = EntryBuilder(idempotency: .put, baseURL: "http://fhir.test")
        return items.map { Machine.Candidate(item: $0, entry: builder.entry(for: $0)) }
    }

    func machine(_ type: UploadSettings.BundleType = .batch, seed: UInt64 = 42) -> Machine {
        Machine(policy: policy, bundleType: type, random: SplitMix64(seed: seed))
    }

    func sentIDs(_ step: Machine.Step) -> [Int64] {
        guard case .send(let group) = step.next else { return [] }
        return group.map(\.item.id.rawValue)
    }

    func outcomeOO(_ text: String) -> OperationOutcome {
        OperationOutcome(issue: [.init(severity: "error", code: "invalid", diagnostics: text)])
    }

    // MARK: Backoff

    func testBackoffCeilingDoublesFromTheBaseUpToTheCap() {
        let ceilings = (1...8).map { UploadBackoff.ceiling(policy, failures: $0) }
        XCTAssertEqual(ceilings, [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        XCTAssertEqual(UploadBackoff.ceiling(policy, failures: 0), .zero)
        XCTAssertEqual(UploadBackoff.ceiling(policy, failures: 10_000), .seconds(30), "huge failure counts must not overflow")
    }

    func testFullJitterIsReproducibleWithASeedAndStaysWithinTheCeiling() {
        var first = SplitMix64(seed: 7), second = SplitMix64(seed: 7), other = SplitMix64(seed: 8)
        let a = (1...12).map { UploadBackoff.delay(policy, failures: $0, using: &first) }
        let b = (1...12).map { UploadBackoff.delay(policy, failures: $0, using: &second) }
        let c = (1...12).map { UploadBackoff.delay(policy, failures: $0, using: &other) }
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        for (n, delay) in a.enumerated() {
            XCTAssertGreaterThanOrEqual(delay, .zero)
            XCTAssertLessThanOrEqual(delay, UploadBackoff.ceiling(policy, failures: n + 1))
        }
        // Full jitter spreads over the whole range, not just near the ceiling.
        var random = SplitMix64(seed: 1)
        let samples = (0..<2000).map { _ in UploadBackoff.delay(policy, failures: 6, using: &random).wholeMilliseconds }
        XCTAssertLessThan(samples.min() ?? .max, 3_000)
        XCTAssertGreaterThan(samples.max() ?? 0, 27_000)
    }

    func testRetryAfterOverridesTheJitterAndIsCapped() {
        var random = SplitMix64(seed: 1)
        XCTAssertEqual(UploadBackoff.wait(policy, failures: 1, retryAfter: .seconds(120), using: &random), .seconds(120))
        XCTAssertEqual(UploadBackoff.wait(policy, failures: 1, retryAfter: .seconds(100_000), using: &random), .seconds(600))
    }

    func testRetryAfterParsesSecondsAndHTTPDates() {
        XCTAssertEqual(RetryAfter.parse("120", now: now), .seconds(120))
        XCTAssertEqual(RetryAfter.parse(" 0 ", now: now), .zero)
        // 1_700_000_000 s is Tue, 14 Nov 2023 22:13:20 GMT.
        XCTAssertEqual(RetryAfter.parse("Tue, 14 Nov 2023 22:13:50 GMT", now: now), .seconds(30))
        XCTAssertEqual(RetryAfter.parse("Tue, 14 Nov 2023 22:00:00 GMT", now: now), .zero, "a past date means now")
        XCTAssertNil(RetryAfter.parse(nil, now: now))
        XCTAssertNil(RetryAfter.parse("soon", now: now))
        XCTAssertNil(RetryAfter.parse("-5", now: now))
        XCTAssertNil(RetryAfter.parse("Tue, 14 Foo 2023 22:13:50 GMT", now: now))
    }

    // MARK: Classification

    func testEveryStatusClassHasADisposition() {
        let table: [(Int, Bool, Disposition)] = [
            (100, false, .keep), (200, false, .accept), (201, false, .accept), (204, false, .accept), (304, false, .keep),
            (400, true, .reject), (400, false, .reject), (401, true, .keep), (403, true, .keep), (404, true, .reject),
            (404, false, .keep), (405, true, .keep), (406, false, .keep), (408, false, .keep), (409, true, .reject),
            (410, true, .reject), (412, true, .reject), (413, false, .reject), (415, false, .keep), (422, true, .reject),
            (425, false, .keep), (429, false, .keep), (500, true, .keep), (502, false, .keep), (503, false, .keep),
            (504, false, .keep), (599, false, .keep),
        ]
        for (status, hasOutcome, expected) in table {
            XCTAssertEqual(Classification.entry(status: status, hasOperationOutcome: hasOutcome), expected,
                           "status \(status), OperationOutcome \(hasOutcome)")
        }
    }

    func testServerVersionReadsLocationAndETag() {
        XCTAssertEqual(ServerVersion(location: "Observation/abc/_history/3", etag: nil), ServerVersion(id: "abc", version: "3"))
        XCTAssertEqual(ServerVersion(location: "https://h/fhir/Observation/abc/_history/3", etag: "W/\"9\""),
                       ServerVersion(id: "abc", version: "3"))
        XCTAssertEqual(ServerVersion(location: "Observation/abc", etag: "W/\"2\""), ServerVersion(id: "abc", version: "2"))
        XCTAssertEqual(ServerVersion(location: nil, etag: "\"5\""), ServerVersion(id: nil, version: "5"))
        XCTAssertEqual(ServerVersion(location: nil, etag: nil), ServerVersion(id: nil, version: nil))
    }

    // MARK: Rounds

    func testABatchSettlesEachEntryByItsOwnStatus() {
        var machine = machine(.batch)
        let step = machine.leased(candidates([item(1), item(2), item(3, attempts: 2)]), now: now)
        XCTAssertEqual(sentIDs(step), [1, 2, 3])
        let reply = Bundle(type: "batch-response", entry: [
            .init(response: .init(status: "201 Created", location: "Observation/o1/_history/1")),
            .init(response: .init(status: "400 Bad Request", outcome: outcomeOO("bad code").json)),
            .init(response: .init(status: "503 Service Unavailable")),
        ])
        let done = machine.replied(.response(status: 200, retryAfter: nil, body: .bundle(reply)), now: now)
        XCTAssertEqual(done.next, .done(pause: nil))
        XCTAssertEqual(done.settle.count, 3)
        XCTAssertEqual(done.settle[0], OutboxSettlement(OutboxID(1), .accept(serverID: "o1", serverVersion: "1")))
        XCTAssertEqual(done.settle[1], OutboxSettlement(OutboxID(2), .reject(errorType: "upstream-400", errorMessage: "error invalid: bad code")))
        guard case .keep(let retryAt?) = done.settle[2].outcome else { return XCTFail("entry 3 should be kept with a retry time") }
        XCTAssertGreaterThanOrEqual(retryAt, now)
        XCTAssertLessThanOrEqual(retryAt, now.adding(milliseconds: 2_000), "its second attempt backs off at most 2 s")
        XCTAssertEqual(machine.consecutiveFailures, 0)
    }

    func testABatchReplyThatDoesNotAccountForEveryEntryKeepsThemAll() {
        var machine = machine(.batch)
        _ = machine.leased(candidates([item(1), item(2)]), now: now)
        let reply = Bundle(type: "batch-response", entry: [.init(response: .init(status: "201 Created"))])
        let done = machine.replied(.response(status: 200, retryAfter: nil, body: .bundle(reply)), now: now)
        XCTAssertEqual(done.settle.map(\.id.rawValue), [1, 2])
        XCTAssertTrue(done.settle.allSatisfy { if case .keep = $0.outcome { true } else { false } })
    }

    func testAcceptedTransactionRecordsTheServerIdsAndVersions() {
        var machine = machine(.transaction)
        _ = machine.leased(candidates([item(1), item(2)]), now: now)
        let reply = Bundle(type: "transaction-response", entry: [
            .init(response: .init(status: "200 OK", location: "Observation/o1/_history/4")),
            .init(response: .init(status: "201 Created", location: "Observation/o2/_history/1", etag: "W/\"1\"")),
        ])
        let done = machine.replied(.response(status: 200, retryAfter: nil, body: .bundle(reply)), now: now)
        XCTAssertEqual(done.settle, [
            OutboxSettlement(OutboxID(1), .accept(serverID: "o1", serverVersion: "4")),
            OutboxSettlement(OutboxID(2), .accept(serverID: "o2", serverVersion: "1")),
        ])
    }

    func testARejectedTransactionIsBisectedUntilTheOffendingEntryStandsAlone() {
        var machine = machine(.transaction)
        let items = (1...8).map { item(Int64($0)) }
        let bad: Int64 = 6
        var step = machine.leased(candidates(items), now: now)
        var settled: [OutboxSettlement] = step.settle
        var requests = 0
        while case .send(let group) = step.next {
            requests += 1
            XCTAssertLessThan(requests, 20, "bisection must terminate")
            let ids = group.map(\.item.id.rawValue)
            if ids.contains(bad) {
                step = machine.replied(.response(status: 422, retryAfter: nil, body: .outcome(outcomeOO("entry \(bad) invalid"))), now: now)
            } else {
                let reply = Bundle(type: "transaction-response", entry: ids.map { .init(response: .init(status: "201 Created", location: "Observation/o\($0)/_history/1")) })
                step = machine.replied(.response(status: 200, retryAfter: nil, body: .bundle(reply)), now: now)
            }
            settled += step.settle
        }
        XCTAssertEqual(step.next, .done(pause: nil))
        XCTAssertEqual(Set(settled.map(\.id.rawValue)), Set(1...8), "every entry settled exactly once")
        XCTAssertEqual(settled.count, 8)
        let rejected = settled.filter { if case .reject = $0.outcome { true } else { false } }.map(\.id.rawValue)
        XCTAssertEqual(rejected, [bad])
        // 8 -> 4+4 -> 2+2 -> 1+1: 1 + 2 + 2 + 2 requests.
        XCTAssertEqual(requests, 7)
        XCTAssertEqual(settled.first { $0.id.rawValue == bad }?.outcome,
                       .reject(errorType: "upstream-422", errorMessage: "error invalid: entry 6 invalid"))
    }

    func testTwoOffendingEntriesAreBothFoundAndTheRestAccepted() {
        var machine = machine(.transaction)
        let bad: Set<Int64> = [2, 5]
        var step = machine.leased(candidates((1...5).map { item(Int64($0)) }), now: now)
        var settled = step.settle
        while case .send(let group) = step.next {
            let ids = Set(group.map(\.item.id.rawValue))
            step = ids.isDisjoint(with: bad)
                ? machine.replied(.response(status: 200, retryAfter: nil, body: .other), now: now)
                : machine.replied(.response(status: 400, retryAfter: nil, body: .outcome(outcomeOO("no"))), now: now)
            settled += step.settle
        }
        let rejected = Set(settled.filter { if case .reject = $0.outcome { true } else { false } }.map(\.id.rawValue))
        XCTAssertEqual(rejected, bad)
        XCTAssertEqual(settled.count, 5)
    }

    func testServerFailureKeepsEverythingUnsettledAndBacksOffWithGrowingCeilings() {
        var machine = machine(.transaction, seed: 3)
        var pauses: [Duration] = []
        for round in 1...7 {
            _ = machine.leased(candidates([item(1), item(2)]), now: now)
            let step = machine.replied(.response(status: 503, retryAfter: nil, body: .other), now: now)
            guard case .done(let pause?) = step.next else { return XCTFail("a 503 must pause") }
            XCTAssertLessThanOrEqual(pause, UploadBackoff.ceiling(policy, failures: round))
            pauses.append(pause)
            XCTAssertEqual(step.settle, [1, 2].map { OutboxSettlement(OutboxID($0), .keep(retryAt: now.adding(milliseconds: pause.wholeMilliseconds))) })
            XCTAssertEqual(machine.consecutiveFailures, round)
        }
        // The same seed gives the same sequence.
        var again = self.machine(.transaction, seed: 3)
        let replay: [Duration] = (1...7).compactMap { _ in
            _ = again.leased(candidates([item(1)]), now: now)
            if case .done(let pause) = again.replied(.transportFailed(.init(.connectionRefused, "refused")), now: now).next { return pause }
            return nil
        }
        XCTAssertEqual(replay, pauses)
        // A success resets the count.
        _ = machine.leased(candidates([item(1)]), now: now)
        _ = machine.replied(.response(status: 200, retryAfter: nil, body: .other), now: now)
        XCTAssertEqual(machine.consecutiveFailures, 0)
    }

    func testThrottlingHonoursRetryAfter() {
        var machine = machine(.batch)
        _ = machine.leased(candidates([item(1)]), now: now)
        let step = machine.replied(.response(status: 429, retryAfter: .seconds(17), body: .other), now: now)
        XCTAssertEqual(step.next, .done(pause: .seconds(17)))
        XCTAssertEqual(step.settle, [OutboxSettlement(OutboxID(1), .keep(retryAt: now.adding(milliseconds: 17_000)))])
    }

    func testTransportErrorsAndAuthenticationFailuresKeepCancellationHandsBackWithoutPenalty() {
        for kind in [UpstreamTransportError.Kind.timeout, .connectionReset, .tls, .dns, .authentication, .invalidRequest] {
            var machine = machine()
            _ = machine.leased(candidates([item(1)]), now: now)
            let step = machine.replied(.transportFailed(.init(kind, "x")), now: now)
            guard case .done(_?) = step.next, case .keep = step.settle.first?.outcome else { return XCTFail("\(kind) must keep and pause") }
        }
        for status in [401, 403, 404, 500] {
            var machine = machine()
            _ = machine.leased(candidates([item(1), item(2)]), now: now)
            let step = machine.replied(.response(status: status, retryAfter: nil, body: .other), now: now)
            XCTAssertEqual(step.settle.count, 2, "status \(status)")
            XCTAssertTrue(step.settle.allSatisfy { if case .keep = $0.outcome { true } else { false } }, "status \(status) keeps")
        }
        var machine = machine()
        _ = machine.leased(candidates([item(1)]), now: now)
        let step = machine.replied(.transportFailed(.init(.cancelled, "stop")), now: now)
        XCTAssertEqual(step, .init(settle: [OutboxSettlement(OutboxID(1), .keep(retryAt: nil))], next: .done(pause: nil)))
        XCTAssertEqual(machine.consecutiveFailures, 0)
    }

    func testSingleModeSendsEachResourceAloneAndAFailureKeepsTheRest() {
        var machine = machine(.single)
        var step = machine.leased(candidates([item(1), item(2), item(3)]), now: now)
        XCTAssertEqual(sentIDs(step), [1])
        step = machine.replied(.response(status: 201, retryAfter: nil, body: .bundle(Bundle(type: "batch-response", entry: [
            .init(response: .init(status: "201", location: "Observation/o1/_history/1"))]))), now: now)
        XCTAssertEqual(step.settle, [OutboxSettlement(OutboxID(1), .accept(serverID: "o1", serverVersion: "1"))])
        XCTAssertEqual(sentIDs(step), [2])
        step = machine.replied(.response(status: 503, retryAfter: .seconds(5), body: .other), now: now)
        XCTAssertEqual(step.settle.map(\.id.rawValue), [2, 3])
        XCTAssertEqual(step.next, .done(pause: .seconds(5)))
    }

    func testNeverTwoEntriesForOneIdentityInABundle() {
        var machine = machine()
        let step = machine.leased(candidates([item(1, identity: "a"), item(2, identity: "b"), item(3, identity: "a")]), now: now)
        XCTAssertEqual(sentIDs(step), [1, 2])
        XCTAssertEqual(step.settle, [OutboxSettlement(OutboxID(3), .keep(retryAt: nil))])
    }

    func testUnsendableBodiesAreRejectedWithoutARequest() {
        var machine = machine()
        var bad = item(1)
        bad.resource.body = "{not json"
        let step = machine.leased(candidates([bad]), now: now)
        XCTAssertEqual(step.next, .done(pause: nil))
        guard case .reject(let type, _)? = step.settle.first?.outcome else { return XCTFail("expected a rejection") }
        XCTAssertEqual(type, "invalid-resource")
    }

    // MARK: Entries

    func testPutEntriesUseTheDeterministicId() throws {
        let entry = try XCTUnwrap(EntryBuilder(idempotency: .put, baseURL: "http://fhir.test/r4").entry(for: item(7)))
        XCTAssertEqual(entry.request, Bundle.Request(method: "PUT", url: "Observation/o7"))
        XCTAssertEqual(entry.fullUrl, "http://fhir.test/r4/Observation/o7")
    }

    func testConditionalCreateEntriesPostWithIfNoneExistOnTheIdentifier() throws {
        var source = item(7)
        source.resource.body = #"{"resourceType":"Observation","id":"o7","identifier":[{"system":"urn:sys x","value":"a|b"}]}"#
        let entry = try XCTUnwrap(EntryBuilder(idempotency: .conditionalCreate, baseURL: "http://fhir.test").entry(for: source))
        XCTAssertEqual(entry.request, Bundle.Request(method: "POST", url: "Observation", ifNoneExist: "identifier=urn:sys%20x|a%5C%7Cb"),
                       "FHIR escapes the value's '|' as '\\|' (a percent-encoded '|' alone would still split it)")
        XCTAssertEqual(entry.resource?["id"], nil, "the server assigns the id")
        XCTAssertEqual(entry.fullUrl?.hasPrefix("urn:uuid:"), true)
        // Without an identifier there is nothing to be conditional on: PUT by id.
        let plain = try XCTUnwrap(EntryBuilder(idempotency: .conditionalCreate, baseURL: "http://fhir.test").entry(for: item(8)))
        XCTAssertEqual(plain.request?.method, "PUT")
    }
}
