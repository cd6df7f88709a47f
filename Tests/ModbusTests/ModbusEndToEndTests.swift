import Foundation
import TestSupport
import XCTest

/// Modbus → templates → outbox → upstream in one run: the gateway daemon with a `modbus:` section
/// polls ../shared/modbus-rig's units 1-3 (and the silent unit 4), and their Observations are
/// found on sekmet-fhir by search.
final class ModbusEndToEndTests: XCTestCase {
    func testRigUnitsReachTheUpstreamAsObservations() throws {
        guard let venv = TestVenv.directory() else { return }
        guard let rig = try ModbusPeer.start(.rig, .tcp, extraArguments: ["--clock", "fixed", "--start-tick", "25"]) else { return }
        defer { rig.stop() }
        let work = try temporaryDirectory("modbus-e2e")
        defer { try? FileManager.default.removeItem(at: work) }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        try server.start()
        defer { server.stop() }

        // Only the Modbus profiles: the run depends on nothing else in device-profiles/.
        let profiles = work.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        for name in RigPollingTests.profiles {
            try FileManager.default.createSymbolicLink(
                at: profiles.appendingPathComponent(name), withDestinationURL: ProfileGoldenTests.profilesDirectory.appendingPathComponent(name))
        }
        let config = work.appendingPathComponent("fhir-edge.yaml")
        try """
            dataDir: data
            profiles:
              directory: \(profiles.path)
            upstream:
              url: \(server.baseURL)
              bundle: transaction
              batchSize: 20
            modbus:
              devices:
                room-101-monitor:
                  profile: modbus-room-monitor
                  tcp: 127.0.0.1:\(rig.port)
                  interval: 1s
                gas-panel-ward-3:
                  profile: modbus-gas-panel
                  tcp: 127.0.0.1:\(rig.port)
                  interval: 1s
                room-12a-sensor:
                  profile: modbus-patient-room-sensor
                  tcp: 127.0.0.1:\(rig.port)
                  patientId: patient-e2e-12a
                  interval: 1s
                offline-sensor:
                  profile: modbus-room-monitor
                  tcp: 127.0.0.1:\(rig.port)
                  unit: 4
                  timeout: 300ms
                  interval: 1s
            \(DaemonProcess.viewerClientYAML)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: work.appendingPathComponent("data"))
        try daemon.start()
        defer { _ = daemon.stop() }

        // Each code once at least: room temperature from both rooms (LOINC), the gas panel's O2 pressure.
        let deadline = Date().addingTimeInterval(60)
        var temperatures: [Double] = []
        var o2: [Double] = []
        var noise: [Double] = []
        while Date() < deadline {
            temperatures = try values(server.search("Observation?code=http://loinc.org%7C60832-3&_count=200"))
            o2 = try values(server.search("Observation?code=urn:fhir-edge:clinic-environment%7Co2-pipeline-pressure&_count=200"))
            noise = try values(server.search("Observation?code=urn:fhir-edge:clinic-environment%7Croom-noise-level&_count=200"))
            if Set(temperatures).count >= 2, !o2.isEmpty, !noise.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(Set(temperatures), [22.5, 21.75], "room monitor 22.5 Cel and patient-room sensor 21.75 Cel at tick 25\n\(daemon.log.suffix(3000))")
        XCTAssertEqual(Set(o2), [4.0976562], "o2_pressure at tick 25 (float32 4.09765625)")
        XCTAssertEqual(Set(noise), [37.5])
        // Room and gas-panel readings are about their Device (identity.subject: device); only the
        // patient-room sensor's readings, and its Patient, name a patient.
        let subjects = try subjectsByValue(server.search("Observation?code=http://loinc.org%7C60832-3&_count=200"))
        XCTAssertTrue(subjects[22.5]?.allSatisfy { $0.hasPrefix("Device/") } ?? false, "room monitor: \(subjects)")
        XCTAssertTrue(subjects[21.75]?.allSatisfy { $0.hasPrefix("Patient/") } ?? false, "patient-room sensor: \(subjects)")
        let o2Subjects = try subjectsByValue(server.search("Observation?code=urn:fhir-edge:clinic-environment%7Co2-pipeline-pressure&_count=200"))
        XCTAssertTrue(o2Subjects.values.joined().allSatisfy { $0.hasPrefix("Device/") }, "gas panel: \(o2Subjects)")
        let patients = ((try server.search("Patient?_count=200")["entry"] as? [[String: Any]]) ?? []).count
        XCTAssertEqual(patients, 1, "only the patient-room sensor's patient")

        // The silent unit is down by name; the others are up.
        let status = try XCTUnwrap(daemon.request("GET", "/status", headers: DaemonProcess.viewerHeaders))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: status.body) as? [String: Any])
        let devices = try XCTUnwrap(root["acquisition"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: devices.compactMap { device in (device["device"] as? String).map { ($0, device) } })
        XCTAssertEqual(byName["offline-sensor"]?["state"] as? String, "down")
        XCTAssertEqual(byName["offline-sensor"]?["lastError"] as? String, "timeout")
        for name in ["room-101-monitor", "gas-panel-ward-3", "room-12a-sensor"] {
            XCTAssertEqual(byName[name]?["state"] as? String, "up", name)
        }
        let metrics = String(decoding: try XCTUnwrap(daemon.request("GET", "/metrics", headers: DaemonProcess.viewerHeaders)).body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("fhir_edge_acquisition_up{device=\"offline-sensor\",transport=\"modbus\"} 0"), metrics)

        // SIGTERM stops the pollers first (one may be waiting out unit 4's timeout) and exits cleanly.
        let started = Date()
        XCTAssertEqual(daemon.stop(), 0, daemon.log.suffix(2000).description)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    /// The subject references of a search bundle's Observations, by valueQuantity.value.
    func subjectsByValue(_ bundle: [String: Any]) -> [Double: [String]] {
        var subjects: [Double: [String]] = [:]
        for entry in (bundle["entry"] as? [[String: Any]]) ?? [] {
            guard let resource = entry["resource"] as? [String: Any],
                  let value = (resource["valueQuantity"] as? [String: Any])?["value"] as? Double else { continue }
            subjects[value, default: []].append(((resource["subject"] as? [String: Any])?["reference"] as? String) ?? "")
        }
        return subjects
    }

    /// valueQuantity.value of every Observation in a search bundle.
    func values(_ bundle: [String: Any]) -> [Double] {
        ((bundle["entry"] as? [[String: Any]]) ?? []).compactMap { entry in
            ((entry["resource"] as? [String: Any])?["valueQuantity"] as? [String: Any])?["value"] as? Double
        }
    }
}
