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
        let venv = BLERig.python.deletingLastPathComponent().deletingLastPathComponent()
        let sekmet = venv.appendingPathComponent("bin/sekmet")
        guard FileManager.default.isExecutableFile(atPath: sekmet.path) else {
            return print("SKIP: \(sekmet.path) missing (run scripts/setup.sh)")
        }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        for profile in ["ble-heart-rate", "ble-blood-pressure", "ble-thermometer", "ble-weight-scale", "ble-pulse-oximeter", "ble-bthome"] {
            guard FileManager.default.fileExists(atPath: profiles.appendingPathComponent(profile).path) else {
                return XCTFail("device-profiles/\(profile) is missing")
            }
        }
        let directory = try temporaryDirectory("ble-end-to-end")
        defer { try? FileManager.default.removeItem(at: directory) }

        let rigPort = try Self.freePort()
        // The cuff wants an encrypted link: the daemon pairs when it refuses the subscription.
        let rigArguments = ["--port", String(rigPort), "--notify-interval-ms", "500", "--require-pairing", "bp"]
        guard var rig = try BLERig.start(rigArguments) else { return }
        defer { rig.stop() }
        let server = try SekmetServer(executable: sekmet, home: directory.appendingPathComponent("sekmet"), port: Self.freePort())
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
        let metrics = daemon.request("GET", "/metrics")?.text ?? ""
        XCTAssertTrue(metrics.contains("fhir_edge_acquisition_up{device=\"F0:00:00:00:18:0D\",transport=\"ble\"} 1"), metrics)
        XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed", "\"bp\""], timeout: 5))
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 1))

        // Through the templates and the uploader to the server, found by Vital Signs codes.
        for (name, code) in Self.codes {
            let found = try server.waitForCount("Observation?code=http://loinc.org|\(code)", atLeast: 1, timeout: 30)
            XCTAssertGreaterThanOrEqual(found, 1, "\(name) (\(code)) not on the server; daemon log:\n\(daemon.log.suffix(3000))")
        }
        let pressure = try XCTUnwrap(server.search("Observation?code=http://loinc.org|85354-9").first)
        let effective = pressure["effectiveDateTime"]?.stringValue ?? pressure["effectivePeriod"]?["start"]?.stringValue
        XCTAssertEqual(effective?.hasPrefix("2024-01-15T08:30:00"), true, "the cuff's own time: \(pressure)")
        let category = pressure["category"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?.stringValue
        XCTAssertEqual(category, "vital-signs")
        XCTAssertGreaterThanOrEqual(try server.waitForCount("Observation?subject=Patient/\(try server.patientID("p-room"))", atLeast: 1, timeout: 30), 1,
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

    static let allAddresses = ["F0:00:00:00:18:0D", "F0:00:00:00:18:10", "F0:00:00:00:18:09", "F0:00:00:00:18:1D", "F0:00:00:00:18:22", "F0:00:00:00:FC:D2"]

    /// Polls `/status` until `condition` holds for its `acquisition` devices (by device name); at most 40 s.
    func waitForStatus(
        _ daemon: DaemonProcess, _ what: String, file: StaticString = #filePath, line: UInt = #line,
        _ condition: ([String: JSONObject]) -> Bool
    ) throws -> [String: JSONObject] {
        let deadline = Date().addingTimeInterval(40)
        var devices: [String: JSONObject] = [:]
        while Date() < deadline {
            if let reply = daemon.request("GET", "/status"), reply.status == 200,
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

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CancellationError() }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw CancellationError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// sekmet-fhir on a loopback port, stopped by PID.
final class SekmetServer: @unchecked Sendable {
    let port: Int
    let home: URL
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)/fhir" }

    init(executable: URL, home: URL, port: Int) throws {
        self.port = port
        self.home = home
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try """
            base_url: http://127.0.0.1:\(port)/fhir
            host: 127.0.0.1
            port: \(port)
            data_dir: \(home.path)/data
            log_inbound: false
            simulator: {enabled: false}
            validation: {inbound: strict}

            """.write(to: home.appendingPathComponent("settings.yaml"), atomically: true, encoding: .utf8)
        let log = home.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "-c", home.appendingPathComponent("settings.yaml").path]
        process.currentDirectoryURL = home
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.runWithStopSignalsUnblocked()
        try? handle.close()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let reply = LoopbackHTTP.request(port: port, method: "GET", path: "/fhir/metadata", timeoutSeconds: 2), reply.status == 200 { return }
            if !process.isRunning { break }
            usleep(100_000)
        }
        stop()
        throw CancellationError()
    }

    deinit { stop() }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The resources of a search's first page.
    func search(_ query: String) throws -> [JSONObject] {
        guard let reply = LoopbackHTTP.request(
            port: port, method: "GET", path: "/fhir/" + query, headers: ["Accept": "application/fhir+json"], timeoutSeconds: 30),
            reply.status == 200, let bundle = try JSONValue(parsing: reply.body).objectValue
        else { return [] }
        return (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?.objectValue }
    }

    /// `total` of a `_summary=count` search, polled until it reaches `atLeast` (or `timeout` s pass).
    func waitForCount(_ query: String, atLeast: Int, timeout: TimeInterval) throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var total = 0
        while Date() < deadline {
            let separator = query.contains("?") ? "&" : "?"
            if let reply = LoopbackHTTP.request(
                port: port, method: "GET", path: "/fhir/" + query + separator + "_summary=count",
                headers: ["Accept": "application/fhir+json"], timeoutSeconds: 30),
               reply.status == 200, let value = try JSONValue(parsing: reply.body).objectValue?["total"]?.doubleValue {
                total = Int(value)
                if total >= atLeast { return total }
            }
            usleep(300_000)
        }
        return total
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
