import Foundation
import JSONQuery
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Rig → gateway daemon (`bluetooth:` section) → ble-* profiles' templates → outbox → sekmet:
/// every emulated device's readings reach the FHIR server as Vital Signs Observations, device
/// health shows in `/status`, and the gateway comes back by itself after the controller goes away.
final class EndToEndRigTests: XCTestCase {
    /// LOINC codes the ble-* profiles give each reading (Vital Signs profile).
    static let codes: [(device: String, code: String)] = [
        ("heart rate", "8867-4"), ("blood pressure", "85354-9"), ("body temperature", "8310-5"),
        ("body weight", "29463-7"), ("oxygen saturation", "59408-5"),
    ]

    func testRigReadingsReachTheFHIRServerAndTheGatewayRecoversFromALostController() throws {
        guard BLERig.directory != nil else { return print("SKIP: ../shared/ble-rig not found") }
        guard let venv = TestVenv.directory() else { return }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        for profile in ["ble-heart-rate", "ble-blood-pressure", "ble-thermometer", "ble-weight-scale", "ble-pulse-oximeter", "ble-bthome"] {
            guard FileManager.default.fileExists(atPath: profiles.appendingPathComponent(profile).path) else {
                return XCTFail("device-profiles/\(profile) is missing")
            }
        }
        let directory = try temporaryDirectory("ble-end-to-end")
        defer { try? FileManager.default.removeItem(at: directory) }

        let rigPort = try freeLoopbackPort()
        // The cuff wants an encrypted link: the daemon pairs when it refuses the subscription.
        let rigArguments = ["--port", String(rigPort), "--notify-interval-ms", "500", "--require-pairing", "bp"]
        guard var rig = try BLERig.start(rigArguments) else { return }
        defer { rig.stop() }
        let server = try FHIRServer(venv: venv, home: directory.appendingPathComponent("sekmet"))
        try server.start()
        defer { server.stop() }

        let config = directory.appendingPathComponent("gateway.yaml")
        try """
            dataDir: data
            profiles:
              directory: \(profiles.path)
            upstream:
              url: \(server.baseURL)
              batchSize: 50
              linger: 200ms
            bluetooth:
              transport: tcp:127.0.0.1:\(rigPort)
              reconnect: {base: 300ms, cap: 2s}
              connectTimeout: 5s
              devices:
                "F0:00:00:00:18:0D": {profile: ble-heart-rate, patientId: p-hr}
                "F0:00:00:00:18:10": {profile: ble-blood-pressure, patientId: p-bp}
                "F0:00:00:00:18:09": {profile: ble-thermometer, patientId: p-bp}
                "F0:00:00:00:18:1D": {profile: ble-weight-scale, patientId: p-bp}
                "F0:00:00:00:18:22": {profile: ble-pulse-oximeter, patientId: p-hr}
              bthome:
                "F0:00:00:00:FC:D2": {patientId: p-room}
            \(DaemonProcess.viewerClientYAML)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        try daemon.start()
        defer { daemon.stop() }

        // Every device up and reading, with RSSI and last seen from the scan.
        let devices = try waitForStatus(daemon, "every device up with readings") { devices in
            Self.allAddresses.allSatisfy { address in
                guard let device = devices[address] else { return false }
                return device["state"]?.stringValue == "up" && (device["readings"]?.doubleValue ?? 0) >= 1
            }
        }
        XCTAssertEqual(devices["F0:00:00:00:18:0D"]?["details"]?["rssi"]?.doubleValue, -55)
        XCTAssertNotNil(devices["F0:00:00:00:18:10"]?["details"]?["lastSeen"]?.stringValue)
        XCTAssertEqual(devices["F0:00:00:00:18:10"]?["profile"]?.stringValue, "ble-blood-pressure")
        XCTAssertEqual(devices["controller"]?["state"]?.stringValue, "up")
        let metrics = daemon.request("GET", "/metrics", headers: DaemonProcess.viewerHeaders)?.text ?? ""
        XCTAssertTrue(metrics.contains("fhir_edge_acquisition_up{device=\"F0:00:00:00:18:0D\",transport=\"ble\"} 1"), metrics)
        XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed", "\"bp\""], timeout: 5))
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 1))

        // Through the templates and the uploader to the server, found by Vital Signs codes.
        for (name, code) in Self.codes {
            let found = server.waitForCount("Observation?code=http://loinc.org|\(code)", atLeast: 1, timeout: 30)
            XCTAssertGreaterThanOrEqual(found, 1, "\(name) (\(code)) not on the server; daemon log:\n\(daemon.log.suffix(3000))")
        }
        let pressure = try XCTUnwrap(server.search("Observation?code=http://loinc.org|85354-9").first)
        let effective = pressure["effectiveDateTime"]?.stringValue ?? pressure["effectivePeriod"]?["start"]?.stringValue
        XCTAssertEqual(effective?.hasPrefix("2024-01-15T08:30:00"), true, "the cuff's own time: \(pressure)")
        let category = pressure["category"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?.stringValue
        XCTAssertEqual(category, "vital-signs")
        XCTAssertGreaterThanOrEqual(server.waitForCount("Observation?subject=Patient/\(try server.patientID("p-room"))", atLeast: 1, timeout: 30), 1,
                                    "the BTHome advert reached the server")

        // The controller goes away (the rig stops): every device goes down, the gateway keeps
        // trying, and once the rig is back each device is reconnected and read again.
        let before = Int(devices["F0:00:00:00:18:0D"]?["readings"]?.doubleValue ?? 0)
        rig.stop()
        _ = try waitForStatus(daemon, "the controller down") { $0["controller"]?["state"]?.stringValue == "down" }
        rig = try XCTUnwrap(BLERig.start(rigArguments))
        let after = try waitForStatus(daemon, "heart rate read again after the rig restarted") { devices in
            devices["controller"]?["state"]?.stringValue == "up"
                && (devices["F0:00:00:00:18:0D"]?["readings"]?.doubleValue ?? 0) >= Double(before + 3)
                && devices["F0:00:00:00:18:0D"]?["state"]?.stringValue == "up"
        }
        XCTAssertGreaterThanOrEqual(after["controller"]?["errors"]?.doubleValue ?? 0, 1)
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"subscription\"", "\"hr\""], timeout: 5), "resubscribed on the new controller")
        XCTAssertEqual(rig.hostBugs, [])
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// A strap notifying every 300 ms through the daemon: one Observation per notification, each
    /// with its own receive instant (the strap has no clock), none merged with its neighbour.
    func testStrapNotifyingEvery300MillisecondsGivesOneObservationPerReading() throws {
        guard BLERig.directory != nil else { return print("SKIP: ../shared/ble-rig not found") }
        let directory = try temporaryDirectory("ble-burst")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rigPort = try freeLoopbackPort()
        guard let rig = try BLERig.start(["--port", String(rigPort), "--only", "hr", "--notify-interval-ms", "300"]) else { return }
        defer { rig.stop() }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let config = directory.appendingPathComponent("gateway.yaml")
        try """
            dataDir: data
            profiles:
              directory: \(profiles.path)
            bluetooth:
              transport: tcp:127.0.0.1:\(rigPort)
              reconnect: {base: 300ms, cap: 2s}
              devices:
                "F0:00:00:00:18:0D": {profile: ble-heart-rate, patientId: p-hr}
            \(DaemonProcess.viewerClientYAML)
            """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }
        _ = try waitForStatus(daemon, "30 heart-rate readings") { ($0["F0:00:00:00:18:0D"]?["readings"]?.doubleValue ?? 0) >= 30 }
        XCTAssertEqual(rig.stop(), 0)
        let settled = try waitForStatus(daemon, "the controller down after the rig stopped") { $0["controller"]?["state"]?.stringValue == "down" }
        let readings = Int(settled["F0:00:00:00:18:0D"]?["readings"]?.doubleValue ?? 0)
        XCTAssertEqual(daemon.stop(), 0)

        let export = try CommandRunner.run(["export", "--data-dir", data.path, "--format", "ndjson", "--state", "all"])
        XCTAssertEqual(export.status, 0, export.stderr)
        var starts: [String] = []
        for line in export.stdoutText.split(separator: "\n") {
            let resource = try JSONValue(parsing: String(line))
            guard resource["resourceType"] == .string("Observation"), resource["code"]?["text"] == .string("heartrate") else { continue }
            let period = resource["effectivePeriod"]
            XCTAssertEqual(period?["start"], period?["end"], "a reading is an instant, not a merged period")
            starts.append(period?["start"]?.stringValue ?? "")
        }
        XCTAssertGreaterThanOrEqual(readings, 30)
        XCTAssertEqual(starts.count, readings, "one Observation per notification")
        XCTAssertEqual(Set(starts).count, starts.count, "each at its own instant")
    }

    static let allAddresses = ["F0:00:00:00:18:0D", "F0:00:00:00:18:10", "F0:00:00:00:18:09", "F0:00:00:00:18:1D", "F0:00:00:00:18:22", "F0:00:00:00:FC:D2"]

    /// Polls `/status` until `condition` holds for its `acquisition` devices (by device name); at most 40 s.
    func waitForStatus(
        _ daemon: DaemonProcess, _ what: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: ([String: JSONObject]) -> Bool
    ) throws -> [String: JSONObject] {
        let deadline = Date().addingTimeInterval(40)
        var devices: [String: JSONObject] = [:]
        while Date() < deadline {
            if let reply = daemon.request("GET", "/status", headers: DaemonProcess.viewerHeaders), reply.status == 200,
               let list = try? JSONValue(parsing: reply.body).objectValue?["acquisition"]?.arrayValue {
                devices = [:]
                for case .object(let device) in list {
                    if let name = device["device"]?.stringValue { devices[name] = device }
                }
                if condition(devices) { return devices }
            }
            usleep(200_000)
        }
        XCTFail("timed out waiting for \(what); acquisition: \(devices)\ndaemon log:\n\(daemon.log.suffix(3000))", file: file, line: line)
        throw CancellationError()
    }
}

extension FHIRServer {
    /// The resources of a search's first page, in the project's JSON model.
    func search(_ query: String) throws -> [JSONObject] {
        guard let reply = get(query), reply.status == 200, let bundle = try JSONValue(parsing: reply.body).objectValue else { return [] }
        return (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?.objectValue }
    }

    /// The server id of the Patient with identifier `value` (Create mode makes it).
    func patientID(_ value: String) throws -> String {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let patient = try search("Patient?identifier=\(value)").first, let id = patient["id"]?.stringValue { return id }
            usleep(300_000)
        }
        XCTFail("no Patient with identifier \(value)")
        throw CancellationError()
    }
}
