import FHIRConventions
import Audit
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping
import Store
import TestSupport
import Upstream
import XCTest

/// Identity resolution against sekmet-fhir: Lookup mode finds the Device (and its Patient) the
/// server holds, a missing Device makes dead letters that a replay delivers once it exists, and
/// Create mode under conditional create points Observations at the ids the server assigned.
final class IdentityEndToEndTests: XCTestCase {
    var work: URL!
    var server: FHIRServer!
    var store: Store?

    static let deviceSystem = "urn:fhir-edge:test:device-serial"
    static let patientSystem = "urn:fhir-edge:test:mrn"

    override func setUpWithError() throws {
        work = try temporaryDirectory("upstream-identity")
    }

    override func tearDownWithError() throws {
        try? store?.close()
        server?.stop()
        try? FileManager.default.removeItem(at: work)
    }

    private func start() throws -> Bool {
        guard let venv = TestVenv.directory() else { return false }
        server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        try server.start()
        return true
    }

    private func openStore() throws -> Store {
        let data = work.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let path = data.appendingPathComponent("fhir-edge.sqlite").path
        let opened = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock,
                               encryption: storeEncryption(besideStore: path))
        store = opened
        return opened
    }

    private func uploader(_ store: Store, _ settings: UploadSettings = UploadSettings(batchSize: 20)) -> Uploader {
        var settings = settings
        settings.retry = RetryPolicy(base: .milliseconds(100), cap: .seconds(1), retryAfterCap: .seconds(2))
        settings.linger = .milliseconds(10)
        let transport = CurlTransport(options: CurlTransport.Options(connectTimeout: .seconds(2), totalTimeout: .seconds(10)))
        return Uploader(store: store, client: FHIRClient(baseURL: server.baseURL, transport: transport), settings: settings)
    }

    /// POSTs a resource to the server directly; its server id.
    private func create(_ type: String, _ body: String) throws -> String {
        let reply = try XCTUnwrap(LoopbackHTTP.request(
            port: server.port, method: "POST", path: "/fhir/" + type, headers: ["Content-Type": "application/fhir+json"], body: Data(body.utf8),
            timeoutSeconds: 30))
        XCTAssertEqual(reply.status, 201, String(decoding: reply.body, as: UTF8.self))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        return try XCTUnwrap(json["id"] as? String)
    }

    /// The ids of the resources a search returns.
    private func search(_ query: String) throws -> [[String: Any]] {
        let reply = try XCTUnwrap(server.get(query + (query.contains("?") ? "&" : "?") + "_count=500"))
        XCTAssertEqual(reply.status, 200)
        let bundle = try XCTUnwrap(JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        return (bundle["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
    }

    /// A Lookup-mode Observation as the mapping stage writes it (placeholders for Patient and Device).
    static func lookupObservation(_ n: Int, device: String) -> OutboxResource {
        let placeholder = ResourceIds.lookupPlaceholder(deviceSystem: deviceSystem, deviceId: device)
        let value = "\(placeholder).\(placeholder).HeartRate.\(n)"
        let id = ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: value)
        let body = """
            {"resourceType":"Observation","id":"\(id)","identifier":[{"system":"\(ResourceIds.connectorSystem)","value":"\(value)"}],\
            "status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"HeartRate"},\
            "subject":{"reference":"Patient/\(placeholder)"},"device":{"reference":"Device/\(placeholder)"},\
            "effectivePeriod":{"start":"2026-11-27T10:00:\(String(format: "%02d", n % 60))Z","end":"2026-11-27T10:00:\(String(format: "%02d", n % 60))Z"},\
            "valueQuantity":{"value":\(60 + n % 40),"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}
            """
        return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: id,
                              identityKey: ResourceIds.connectorSystem + "|" + value, body: body)
    }

    private func makeDevice(_ serial: String, patientIdentifier: String?) throws -> (device: String, patient: String?) {
        var patientID: String?
        var patientMember = ""
        if let patientIdentifier {
            patientID = try create("Patient", #"{"resourceType":"Patient","identifier":[{"system":"urn:fhir-edge:test:mrn","value":"\#(patientIdentifier)"}]}"#)
            patientMember = #","patient":{"reference":"Patient/\#(patientID ?? "")"}"#
        }
        let device = try create("Device", #"{"resourceType":"Device","identifier":[{"system":"\#(Self.deviceSystem)","value":"\#(serial)"}]\#(patientMember)}"#)
        return (device, patientID)
    }

    func testLookupModeDeliversObservationsForTheDeviceAndPatientTheServerHolds() async throws {
        guard try start() else { return }
        let (deviceID, patientID) = try makeDevice("monitor-1", patientIdentifier: "mrn-1")
        let store = try openStore()
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: (1...30).map { Self.lookupObservation($0, device: "monitor-1") }))
        let uploader = uploader(store)
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained)

        let observations = try search("Observation?subject=Patient/\(try XCTUnwrap(patientID))")
        XCTAssertEqual(observations.count, 30, "every reading, once, on the Device's Patient")
        for observation in observations {
            XCTAssertEqual((observation["device"] as? [String: Any])?["reference"] as? String, "Device/\(deviceID)")
            let identifier = (observation["identifier"] as? [[String: Any]])?.first?["value"] as? String ?? ""
            XCTAssertTrue(identifier.hasPrefix("\(patientID ?? "").\(deviceID).HeartRate."), identifier)
        }
        let metrics = await uploader.metrics()
        XCTAssertEqual(metrics.identityRequests, 1, "one search, then the map")
        XCTAssertEqual(metrics.entriesAccepted, 30)
        let stored = try await store.serverIdentities()
        XCTAssertEqual(stored.map(\.serverID), [deviceID])

        // A restarted uploader answers from the stored map.
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: [Self.lookupObservation(31, device: "monitor-1")]))
        let restarted = self.uploader(store)
        let again = try await restarted.drain(timeout: .seconds(60))
        XCTAssertTrue(again)
        let restartedRequests = await restarted.metrics().identityRequests
        XCTAssertEqual(restartedRequests, 0)
        XCTAssertEqual(try server.count("Observation?subject=Patient/\(patientID ?? "")"), 31)
    }

    func testALookupMissIsADeadLetterUntilTheDeviceExistsThenAReplayDeliversIt() async throws {
        guard try start() else { return }
        _ = try makeDevice("known", patientIdentifier: "mrn-2")
        let store = try openStore()
        let resources = [Self.lookupObservation(1, device: "not-yet"), Self.lookupObservation(2, device: "known"), Self.lookupObservation(3, device: "not-yet")]
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: resources))
        let uploader = uploader(store)
        let drained = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(drained, "the queue flows on")
        XCTAssertEqual(try server.count("Observation"), 1)
        let dead = try await store.reader.deadLetters()
        XCTAssertEqual(dead.count, 2)
        for letter in dead {
            XCTAssertEqual(letter.errorType, "FhirResourceNotFoundException")
            XCTAssertTrue(letter.errorMessage.contains("\(Self.deviceSystem)|not-yet"), letter.errorMessage)
            XCTAssertFalse(letter.errorMessage.contains("mrn"), "no patient data: \(letter.errorMessage)")
        }

        // The Device is created on the server; the operator replays the dead letters.
        let (deviceID, patientID) = try makeDevice("not-yet", patientIdentifier: "mrn-3")
        let replay = try CommandRunner.run(["deadletter", "replay", "--data-dir", work.appendingPathComponent("data").path, "--all"])
        XCTAssertEqual(replay.status, 0, replay.stdoutText + replay.stderr)
        let delivered = try await uploader.drain(timeout: .seconds(60))
        XCTAssertTrue(delivered)
        let observations = try search("Observation?subject=Patient/\(try XCTUnwrap(patientID))")
        XCTAssertEqual(observations.count, 2)
        XCTAssertEqual(Set(observations.compactMap { ($0["device"] as? [String: Any])?["reference"] as? String }), ["Device/\(deviceID)"])
        let remaining = try await store.reader.deadLetters()
        XCTAssertTrue(remaining.isEmpty)
    }

    func testCreateModeUnderConditionalCreatePointsObservationsAtTheServersIds() async throws {
        guard try start() else { return }
        let store = try openStore()
        // Another system's patient with the same identifier value: a value-only If-None-Exist
        // would file the readings under this person.
        let stranger = try create("Patient", #"{"resourceType":"Patient","identifier":[{"system":"urn:other-hospital:mrn","value":"mrn-cc"}]}"#)
        let patient = ResourceIdentity.createModePatient(patientId: "mrn-cc", system: Self.patientSystem)
        let patientHash = try XCTUnwrap(patient.id)
        let device = ResourceIdentity.createModeDevice(deviceId: "monitor-cc", system: Self.deviceSystem, patientResourceId: patientHash)
        let deviceHash = try XCTUnwrap(device.id)
        func observation(_ n: Int) -> OutboxResource {
            let body = """
                {"resourceType":"Observation","id":"obs-cc-\(n)","identifier":[{"system":"urn:fhir-edge:test:reading","value":"cc-\(n)"}],\
                "status":"final","code":{"text":"HeartRate"},"subject":{"reference":"Patient/\(patientHash)"},\
                "device":{"reference":"Device/\(deviceHash)"},"valueQuantity":{"value":\(60 + n)}}
                """
            return OutboxResource(inboxID: nil, resourceType: "Observation", resourceID: "obs-cc-\(n)", identityKey: "urn:fhir-edge:test:reading|cc-\(n)", body: body)
        }
        let identity = [
            OutboxResource(inboxID: nil, resourceType: "Patient", resourceID: patientHash, identityKey: "Patient/" + patientHash, json: patient.json),
            OutboxResource(inboxID: nil, resourceType: "Device", resourceID: deviceHash, identityKey: "Device/" + deviceHash, json: device.json),
        ]
        for bundle in [UploadSettings.BundleType.transaction, .batch] {
            let first = bundle == .transaction ? 1 : 21
            try await store.completeMapping(MappingResult(inboxIDs: [], resources: identity + (first...(first + 19)).map(observation)))
            let uploader = uploader(store, UploadSettings(bundleType: bundle, idempotency: .conditionalCreate, batchSize: 25))
            let drained = try await uploader.drain(timeout: .seconds(60))
            XCTAssertTrue(drained, "\(bundle)")
        }

        let patients = try search("Patient?identifier=\(Self.patientSystem)|mrn-cc")
        XCTAssertEqual(patients.count, 1, "one Patient, created by identifier")
        let patientID = try XCTUnwrap(patients.first?["id"] as? String)
        XCTAssertNotEqual(patientID, patientHash, "the server assigned its own id")
        XCTAssertNotEqual(patientID, stranger, "the other system's patient with the same value was not matched")
        XCTAssertEqual(try server.count("Observation?subject=Patient/\(stranger)"), 0)
        let devices = try search("Device?identifier=\(Self.deviceSystem)|monitor-cc")
        XCTAssertEqual(devices.count, 1)
        let deviceID = try XCTUnwrap(devices.first?["id"] as? String)
        XCTAssertEqual((devices.first?["patient"] as? [String: Any])?["reference"] as? String, "Patient/\(patientID)")
        let observations = try search("Observation?subject=Patient/\(patientID)")
        XCTAssertEqual(observations.count, 40)
        XCTAssertEqual(Set(observations.compactMap { ($0["device"] as? [String: Any])?["reference"] as? String }), ["Device/\(deviceID)"])
        XCTAssertEqual(try server.count("Observation?subject=Patient/\(patientHash)"), 0, "no reference to the gateway's own ids")
    }

    /// `identity.mode` in profile.yaml takes create or lookup; anything else is reported with its
    /// file and key at load.
    func testTheIdentityModeOfAProfileIsCheckedAtLoad() throws {
        let profile = work.appendingPathComponent("profiles/vitals")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let demo = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals")
        for file in ["devicecontent.json", "fhirmapping.json"] {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(file), to: profile.appendingPathComponent(file))
        }
        let config = work.appendingPathComponent("config.yaml")
        try "dataDir: data\nprofiles:\n  directory: \(work.appendingPathComponent("profiles").path)\n".write(to: config, atomically: true, encoding: .utf8)
        let settings = profile.appendingPathComponent("profile.yaml")
        for (mode, usable) in [("lookup", true), ("create", true), ("Lookup", true), ("lookup-with-encounter", false)] {
            try "identity:\n  mode: \(mode)\n".write(to: settings, atomically: true, encoding: .utf8)
            let check = try CommandRunner.run(["config", "check", config.path])
            XCTAssertEqual(check.status, usable ? 0 : 1, "\(mode): \(check.stdoutText)\(check.stderr)")
            if !usable {
                XCTAssertTrue(check.stdoutText.contains("identity.mode"), check.stdoutText)
                XCTAssertTrue(check.stdoutText.contains("use create or lookup"), check.stdoutText)
                XCTAssertTrue(check.stdoutText.contains(settings.path), "the problem names the file: \(check.stdoutText)")
            }
        }
    }

    /// The whole daemon: a profile in Lookup mode (`profile.yaml`), readings posted over HTTP,
    /// mapped with placeholders, woken uploader, Observations on the Device's Patient; a device
    /// the server does not know ends as dead letters.
    func testTheDaemonWithALookupProfileDeliversToTheServersDeviceAndPatient() async throws {
        guard try start() else { return }
        let (deviceID, patientID) = try makeDevice("ward-monitor-1", patientIdentifier: "mrn-daemon")
        let profiles = work.appendingPathComponent("profiles")
        let profile = profiles.appendingPathComponent("vitals-lookup")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let demo = Conformance.packageRoot.appendingPathComponent("device-profiles/demo-vitals")
        for file in ["devicecontent.json", "fhirmapping.json"] {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(file), to: profile.appendingPathComponent(file))
        }
        try "identity:\n  mode: lookup\n  deviceSystem: \(Self.deviceSystem)\n".write(
            to: profile.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
        let hash = try CommandRunner.run(["config", "hash-token", "hub-secret"])
        XCTAssertEqual(hash.status, 0, hash.stderr)
        let config = work.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            profiles:
              directory: \(profiles.path)
              access:
                vitals-lookup: [hub]
            clients:
              hub:
                tokenSHA256: \(hash.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines))
            upstream:
              url: \(server.baseURL)
              batchSize: 50

            """.write(to: config, atomically: true, encoding: .utf8)
        let data = work.appendingPathComponent("daemon-data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { _ = daemon.stop() }

        var messages: [String] = []
        for n in 0..<5 {
            messages.append(#"{"deviceId":"ward-monitor-1","patientId":"ignored-in-lookup","measuredAt":"2026-11-27T09:0\#(n):00Z","heartRate":\#(70 + n)}"#)
        }
        messages.append(#"{"deviceId":"ward-monitor-unknown","patientId":"p","measuredAt":"2026-11-27T09:00:00Z","heartRate":61}"#)
        let reply = try XCTUnwrap(daemon.request(
            "POST", "/ingest/vitals-lookup", headers: ["authorization": "Bearer hub-secret", "content-type": "application/json"],
            body: Data(("[" + messages.joined(separator: ",") + "]").utf8)), daemon.log.suffix(2000).description)
        XCTAssertEqual(reply.status, 202, reply.text)

        let query = "Observation?subject=Patient/\(try XCTUnwrap(patientID))"
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, (try? server.count(query)) ?? 0 < 5 { usleep(100_000) }
        let observations = try search(query)
        XCTAssertEqual(observations.count, 5, "one heart-rate Observation per reading: \(daemon.log.suffix(3000))")
        XCTAssertEqual(Set(observations.compactMap { ($0["device"] as? [String: Any])?["reference"] as? String }), ["Device/\(deviceID)"])
        XCTAssertEqual(try server.count("Observation"), 5, "nothing for the unknown device")
        XCTAssertEqual(try server.count("Patient"), 1, "Lookup mode creates no Patient")
        XCTAssertEqual(try server.count("Device"), 1, "nor a Device")
        XCTAssertEqual(daemon.stop(), 0)

        let reader = try StoreReader.openReadOnly(path: daemon.storePath, encryption: storeEncryption(besideStore: daemon.storePath))
        let dead = try await reader.deadLetters()
        XCTAssertEqual(dead.count, 1, dead.map(\.errorMessage).joined(separator: "\n"))
        XCTAssertEqual(dead.first?.errorType, "FhirResourceNotFoundException")
        XCTAssertTrue(dead.first?.errorMessage.contains("ward-monitor-unknown") ?? false)
    }
}
