import FHIRConventions
import EdgeCore
import FHIRModel
import JSONQuery
import Mapping
import Store
import TestSupport
import XCTest
@testable import Upstream

/// Identity resolution at upload time: Lookup placeholders replaced by the server's Device and
/// Patient, Create mode's Patient and Device created by identifier under conditional create, the
/// map kept in the store, and what happens when the server has nothing, lost an id, or is away.
final class IdentityResolutionTests: XCTestCase {
    static let deviceSystem = "urn:example:devices"
    static let patientSystem = "urn:example:mrn"

    /// A Lookup-mode Observation as the mapping stage writes it.
    static func lookupObservation(_ n: Int, device: String) -> OutboxResource {
        let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: deviceSystem, deviceId: device)
        let value = "\(placeholder).\(placeholder).HeartRate.\(n)"
        let id = ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value)
        let body = """
            {"resourceType":"Observation","id":"\(id)","identifier":[{"system":"\(ResourceIds.connectorSystem)","value":"\(value)"}],\
            "status":"final","code":{"text":"HeartRate"},"subject":{"reference":"Patient/\(placeholder)"},\
            "device":{"reference":"Device/\(placeholder)"},"valueQuantity":{"value":\(60 + n)}}
            """
        return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: id,
                              identityKey: ResourceIds.connectorSystem + "|" + value, body: body)
    }

    private func fixture(_ server: IdentityFHIRServer) throws -> UploadFixture {
        try UploadFixture(server: FakeFHIRServer())
    }

    // MARK: Lookup

    func testLookupFindsTheDeviceAndItsPatientOnceThenAnswersFromTheMap() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-7", system: Self.deviceSystem, value: "monitor-1", patient: "pat-3")
        let fixture = try fixture(server)
        try await fixture.enqueue([Self.lookupObservation(1, device: "monitor-1"), Self.lookupObservation(2, device: "monitor-1")])
        let uploader = uploader(fixture, server)
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)

        let calls = await server.identityCalls
        XCTAssertEqual(calls, ["GET Device?identifier=urn:example:devices%7Cmonitor-1"], "one search for both Observations")
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.count, 2)
        for observation in sent {
            XCTAssertEqual(Self.string(observation, "subject", "reference"), "Patient/pat-3")
            XCTAssertEqual(Self.string(observation, "device", "reference"), "Device/dev-7")
            guard case .array(let identifiers)? = observation["identifier"], case .object(let identifier)? = identifiers.first,
                  case .string(let value)? = identifier["value"] else { return XCTFail("no identifier") }
            XCTAssertTrue(value.hasPrefix("pat-3.dev-7.HeartRate."), value)
            XCTAssertEqual(Self.string(observation, "id"), ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value),
                           "the id follows the resolved identifier")
        }
        // The PUTs go to those ids.
        let putKeys = await server.bundles.resources.keys.sorted()
        XCTAssertEqual(putKeys, sent.compactMap { Self.string($0, "id") }.map { "Observation/" + $0 }.sorted())

        // Later Observations of the same device: a cache hit, no call.
        try await fixture.enqueue([Self.lookupObservation(3, device: "monitor-1")])
        _ = try await uploader.drain(timeout: .seconds(60))
        let after = await server.identityCalls
        XCTAssertEqual(after.count, 1, "answered from the map: \(after)")
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.identityRequests, 1)
        XCTAssertGreaterThanOrEqual(metrics.identityCacheHits, 2)
        XCTAssertEqual(metrics.entriesAccepted, 3)
        let kinds = try await fixture.journalKinds()
        XCTAssertEqual(kinds.filter { $0 == "identity.resolution" }.count, 1, "the search is journaled")
        let stored = try await fixture.store.serverIdentities()
        XCTAssertEqual(stored.map(\.serverID), ["dev-7"])
        XCTAssertEqual(stored.first?.patientServerID, "pat-3")
    }

    func testAMissingDeviceSendsItsObservationsToDeadLettersTheRestFlowAndAReplayDeliversOnceItExists() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-1", system: Self.deviceSystem, value: "known", patient: "pat-1")
        await server.addDevice(id: "dev-2", system: Self.deviceSystem, value: "orphan", patient: nil)
        let fixture = try fixture(server)
        try await fixture.enqueue([
            Self.lookupObservation(1, device: "unknown"), Self.lookupObservation(2, device: "known"),
            Self.lookupObservation(3, device: "unknown"), Self.lookupObservation(4, device: "orphan"),
        ])
        let uploader = uploader(fixture, server)
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained, "nothing waits: the unresolvable are dead letters")
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.count, 1, "the known device's Observation flows on")
        let dead = try await fixture.store.reader.deadLetters()
        XCTAssertEqual(dead.count, 3)
        XCTAssertEqual(Set(dead.map(\.errorType)), ["FhirResourceNotFoundException"])
        let missing = dead.filter { $0.errorMessage.contains("urn:example:devices|unknown") }
        XCTAssertEqual(missing.count, 2, dead.map(\.errorMessage).joined(separator: "\n"))
        XCTAssertTrue(dead.contains { $0.errorMessage.contains("orphan") && $0.errorMessage.contains("no patient") })
        let calls = await server.identityCalls
        XCTAssertEqual(calls.filter { $0.contains("unknown") }.count, 1, "asked once per lease: \(calls)")
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.identityNotFound, 1)
        XCTAssertEqual(metrics.entriesRejected, 3)

        // The Device is created on the server; a replay delivers.
        await server.addDevice(id: "dev-9", system: Self.deviceSystem, value: "unknown", patient: "pat-9")
        _ = try await fixture.store.replayDeadLetters(missing.map(\.id), actor: "operator")
        let replayed = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(replayed)
        let delivered = await server.bundledResources().suffix(2)
        XCTAssertEqual(delivered.map { Self.string($0, "device", "reference") }, ["Device/dev-9", "Device/dev-9"])
        XCTAssertEqual(delivered.map { Self.string($0, "subject", "reference") }, ["Patient/pat-9", "Patient/pat-9"])
    }

    func testAnIdTheServerLostIsResolvedAgain() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-old", system: Self.deviceSystem, value: "monitor-1", patient: "pat-1")
        let fixture = try fixture(server)
        try await fixture.enqueue([Self.lookupObservation(1, device: "monitor-1")])
        let uploader = uploader(fixture, server, UploadSettings(identityRefresh: .seconds(60)))
        _ = try await uploader.drain(timeout: .seconds(60))

        // The Device is deleted and made again (another id, another patient); the cached id is old by now.
        await server.remove("Device/dev-old")
        await server.addDevice(id: "dev-new", system: Self.deviceSystem, value: "monitor-1", patient: "pat-2")
        fixture.clock.advance(.seconds(120))
        try await fixture.enqueue([Self.lookupObservation(2, device: "monitor-1")])
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let calls = await server.identityCalls
        XCTAssertEqual(calls, [
            "GET Device?identifier=urn:example:devices%7Cmonitor-1", "GET Device/dev-old", "GET Device?identifier=urn:example:devices%7Cmonitor-1",
        ])
        let sentNow = await server.bundledResources()
        let last = try XCTUnwrap(sentNow.last)
        XCTAssertEqual(Self.string(last, "device", "reference"), "Device/dev-new")
        XCTAssertEqual(Self.string(last, "subject", "reference"), "Patient/pat-2")
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.identityInvalidated, 1)
        let stored = try await fixture.store.serverIdentities()
        XCTAssertEqual(stored.map(\.serverID), ["dev-new"])
    }

    func testAStaleEntryTheServerStillHasIsReadByIdAndKept() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-1", system: Self.deviceSystem, value: "monitor-1", patient: "pat-1")
        let fixture = try fixture(server)
        let uploader = uploader(fixture, server, UploadSettings(identityRefresh: .seconds(60)))
        try await fixture.enqueue([Self.lookupObservation(1, device: "monitor-1")])
        _ = try await uploader.drain(timeout: .seconds(60))
        // Moved to another patient on the server.
        await server.addDevice(id: "dev-1", system: Self.deviceSystem, value: "monitor-1", patient: "pat-5")
        fixture.clock.advance(.seconds(61))
        try await fixture.enqueue([Self.lookupObservation(2, device: "monitor-1")])
        _ = try await uploader.drain(timeout: .seconds(60))
        let calls = await server.identityCalls
        XCTAssertEqual(calls.last, "GET Device/dev-1")
        let sentNow = await server.bundledResources()
        let last = try XCTUnwrap(sentNow.last)
        XCTAssertEqual(Self.string(last, "subject", "reference"), "Patient/pat-5", "the Device's current patient")
    }

    func testOfflineTheObservationsWaitInTheOutboxAndAreDeliveredWhenTheServerIsBack() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-1", system: Self.deviceSystem, value: "monitor-1", patient: "pat-1")
        await server.setOffline(true)
        let fixture = try fixture(server)
        try await fixture.enqueue([Self.lookupObservation(1, device: "monitor-1"), Self.lookupObservation(2, device: "monitor-1")])
        let uploader = uploader(fixture, server)
        let report = try await uploader.uploadOnce()
        XCTAssertEqual(report.kept, 2)
        XCTAssertEqual(report.rejected, 0)
        XCTAssertNotNil(report.pause, "backs off like a failed upload")
        let pending = try await fixture.store.statistics().outboxPending
        XCTAssertEqual(pending, 2, "kept, not rejected")
        let dead = try await fixture.store.reader.deadLetters()
        XCTAssertTrue(dead.isEmpty)
        let failures = await uploader.metrics().consecutiveFailures
        XCTAssertEqual(failures, 1)

        await server.setOffline(false)
        let drained = try await uploader.drain(timeout: .seconds(600))
        XCTAssertTrue(drained)
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.count, 2)
    }

    func testAfterARestartTheMapIsReadFromTheStoreWithoutAskingTheServer() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-1", system: Self.deviceSystem, value: "monitor-1", patient: "pat-1")
        let fixture = try fixture(server)
        try await fixture.enqueue([Self.lookupObservation(1, device: "monitor-1")])
        _ = try await uploader(fixture, server).drain(timeout: .seconds(60))
        // A new uploader on the same store, as after a restart; the server would no longer find the Device.
        await server.remove("Device/dev-1")
        try await fixture.enqueue([Self.lookupObservation(2, device: "monitor-1")])
        let restarted = uploader(fixture, server)
        let drained = try await restarted.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let metrics = await restarted.metrics()
        XCTAssertEqual(metrics.identityRequests, 0)
        XCTAssertEqual(metrics.identityCacheHits, 1)
        let sentNow = await server.bundledResources()
        let last = try XCTUnwrap(sentNow.last)
        XCTAssertEqual(Self.string(last, "device", "reference"), "Device/dev-1")
    }

    // MARK: Create mode under conditional create

    func testConditionalCreateMakesPatientAndDeviceByIdentifierAndObservationsPointAtTheServersIds() async throws {
        let server = IdentityFHIRServer()
        let fixture = try fixture(server)
        let patient = ResourceIdentity.createModePatient(patientId: "mrn-1", system: Self.patientSystem)
        let patientID = try XCTUnwrap(patient.id)
        let device = ResourceIdentity.createModeDevice(deviceId: "monitor-1", system: Self.deviceSystem, patientResourceId: patientID)
        let deviceID = try XCTUnwrap(device.id)
        func observation(_ n: Int) -> OutboxResource {
            let body = """
                {"resourceType":"Observation","id":"obs-\(n)","identifier":[{"system":"urn:test","value":"r-\(n)"}],"status":"final",\
                "code":{"text":"HeartRate"},"subject":{"reference":"Patient/\(patientID)"},"device":{"reference":"Device/\(deviceID)"}}
                """
            return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-\(n)", identityKey: "urn:test|r-\(n)", body: body)
        }
        try await fixture.enqueue([
            OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: patientID, identityKey: "Patient/" + patientID, json: patient.json),
            OutboxResource(inboxID: nil, resourceType: "Device", resourceID: deviceID, identityKey: "Device/" + deviceID, json: device.json),
            observation(1), observation(2),
        ])
        let uploader = uploader(fixture, server, UploadSettings(bundleType: .transaction, idempotency: .conditionalCreate))
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)

        let calls = await server.identityCalls
        XCTAssertEqual(calls, ["POST Patient", "POST Device"])
        let requests = await server.requests
        XCTAssertEqual(requests.first?.headers["If-None-Exist"], "identifier=urn:example:mrn|mrn-1")
        XCTAssertEqual(requests.dropFirst().first?.headers["If-None-Exist"], "identifier=urn:example:devices|monitor-1")
        let storedDevice = await server.resources["Device/device-srv-2"]
        guard case .object(let deviceObject)? = storedDevice else { return XCTFail("the Device was not created") }
        XCTAssertEqual(Self.string(deviceObject, "patient", "reference"), "Patient/patient-srv-1", "linked to the server's Patient")
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.map { Self.string($0, "subject", "reference") }, ["Patient/patient-srv-1", "Patient/patient-srv-1"])
        XCTAssertEqual(sent.map { Self.string($0, "device", "reference") }, ["Device/device-srv-2", "Device/device-srv-2"])
        let statistics = try await fixture.store.statistics()
        XCTAssertEqual(statistics.outboxSent, 4, "Patient and Device settle with the server's ids")

        // The next mapping batch names the same Patient and Device again: no call, same ids.
        try await fixture.enqueue([
            OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: patientID, identityKey: "Patient/" + patientID, json: patient.json),
            observation(3),
        ])
        _ = try await uploader.drain(timeout: .seconds(60))
        let again = await server.identityCalls
        XCTAssertEqual(again.count, 2, "answered from the map: \(again)")
        let sentNow = await server.bundledResources()
        let last = try XCTUnwrap(sentNow.last)
        XCTAssertEqual(Self.string(last, "subject", "reference"), "Patient/patient-srv-1")
    }

    /// Create mode's Patient, Device and Observations for one device and patient.
    private static func createModeResources(device deviceId: String, patient patientId: String, readings: ClosedRange<Int>) throws -> [OutboxResource] {
        let patient = ResourceIdentity.createModePatient(patientId: patientId)
        let patientID = try XCTUnwrap(patient.id)
        let device = ResourceIdentity.createModeDevice(deviceId: deviceId, system: deviceSystem, patientResourceId: patientID)
        let deviceID = try XCTUnwrap(device.id)
        return [
            OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: patientID, identityKey: "Patient/" + patientID, json: patient.json),
            OutboxResource(inboxID: nil, resourceType: "Device", resourceID: deviceID, identityKey: "Device/" + deviceID, json: device.json),
        ] + readings.map { n in
            let body = """
                {"resourceType":"Observation","id":"obs-\(n)","identifier":[{"system":"urn:test","value":"r-\(n)"}],"status":"final",\
                "code":{"text":"HeartRate"},"subject":{"reference":"Patient/\(patientID)"},"device":{"reference":"Device/\(deviceID)"}}
                """
            return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-\(n)", identityKey: "urn:test|r-\(n)", body: body)
        }
    }

    func testACreateAnsweredWithoutLocationOrBodyIsFoundBySearch() async throws {
        let server = IdentityFHIRServer()
        await server.setMinimalCreates(true)
        let fixture = try fixture(server)
        try await fixture.enqueue(Self.createModeResources(device: "quiet", patient: "mrn-9", readings: 1...1))
        let uploader = uploader(fixture, server, UploadSettings(idempotency: .conditionalCreate))
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)
        let calls = await server.identityCalls
        XCTAssertEqual(calls, ["POST Patient", "GET Patient?identifier=mrn-9", "POST Device", "GET Device?identifier=urn:example:devices%7Cquiet"])
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.map { Self.string($0, "subject", "reference") }, ["Patient/patient-srv-1"])
        XCTAssertEqual(sent.map { Self.string($0, "device", "reference") }, ["Device/device-srv-2"])
    }

    func testAnExistingDeviceWithoutPatientIsLinkedAndOneLinkedToAnotherPatientRejectsTheReadings() async throws {
        let server = IdentityFHIRServer()
        await server.addDevice(id: "dev-bare", system: Self.deviceSystem, value: "bare", patient: nil)
        await server.addDevice(id: "dev-taken", system: Self.deviceSystem, value: "taken", patient: "someone-else")
        let fixture = try fixture(server)
        try await fixture.enqueue(Self.createModeResources(device: "bare", patient: "mrn-1", readings: 1...2))
        try await fixture.enqueue(Self.createModeResources(device: "taken", patient: "mrn-2", readings: 3...4))
        let uploader = uploader(fixture, server, UploadSettings(idempotency: .conditionalCreate))
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)

        let bare = await server.resources["Device/dev-bare"]
        guard case .object(let bareDevice)? = bare else { return XCTFail("gone") }
        XCTAssertEqual(Self.string(bareDevice, "patient", "reference"), "Patient/patient-srv-1", "the existing Device got its patient")
        let calls = await server.identityCalls
        XCTAssertTrue(calls.contains("PUT Device/dev-bare"), "\(calls)")
        let sent = await server.bundledResources()
        XCTAssertEqual(sent.count, 2, "the linked Device's readings flow")
        XCTAssertEqual(sent.map { Self.string($0, "device", "reference") }, ["Device/dev-bare", "Device/dev-bare"])

        let dead = try await fixture.store.reader.deadLetters()
        XCTAssertEqual(dead.compactMap(\.resourceID).sorted(), ["obs-3", "obs-4"], "readings are never filed under the Device's other patient")
        XCTAssertEqual(Set(dead.map(\.errorType)), ["PatientDeviceMismatchException"])
        XCTAssertTrue(dead.allSatisfy { $0.errorMessage.contains("urn:example:devices|taken") && !$0.errorMessage.contains("mrn") })
    }

    // MARK: wake-up

    func testAWokenUploaderLeasesAtOnceInsteadOfAtItsNextPoll() async throws {
        let server = IdentityFHIRServer()
        let fixture = try fixture(server)
        // Real sleeps, and a poll far longer than the test may take.
        let uploader = Uploader(store: fixture.store, client: FHIRClient(baseURL: FakeFHIRServer.base, transport: server),
                                settings: UploadSettings(linger: .milliseconds(1), idlePoll: .seconds(3600)), randomSeed: 1)
        let running = Task { try await uploader.run() }
        defer { running.cancel() }
        // Let it find the outbox empty and go idle.
        try await Task.sleep(for: .milliseconds(300))
        try await fixture.enqueue(observations: 1...3)
        uploader.wake()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, await server.bundles.resources.count < 3 { try await Task.sleep(for: .milliseconds(20)) }
        let delivered = await server.bundles.resources.count
        XCTAssertEqual(delivered, 3, "delivered after the wake-up, long before the hour-long poll")
    }

    // MARK: placeholders

    func testLookupPlaceholdersRoundTripAndAreNeverValidFHIRIds() {
        let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: "urn:x|y", deviceId: "dev.1/é")
        XCTAssertTrue(placeholder.hasPrefix("lookup:"))
        XCTAssertFalse(placeholder.dropFirst("lookup:".count).contains { !$0.isHexDigit })
        let decoded = ResourceIds.lookupDevice(placeholder: placeholder)
        XCTAssertEqual(decoded?.system, "urn:x")  // a system holds no "|": the first one separates
        XCTAssertEqual(decoded?.value, "y|dev.1/é")
        let plain = ResourceIds.lookupDevice(placeholder: ResourceIds.lookupPlaceholder(deviceSystem: nil, deviceId: "d"))
        XCTAssertNil(plain?.system)
        XCTAssertEqual(plain?.value, "d")
        XCTAssertNil(ResourceIds.lookupDevice(placeholder: "abc"))
        XCTAssertNil(ResourceIds.lookupDevice(placeholder: "lookup:7g"))
        XCTAssertTrue(ResourceReferences.mayHoldPlaceholder(#"{"device":{"reference":"Device/lookup:00"}}"#))
        XCTAssertFalse(ResourceReferences.mayHoldPlaceholder(#"{"device":{"reference":"Device/abc"}}"#))
    }
}
