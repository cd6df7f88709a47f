import BluetoothDecoding
import Foundation
import TestSupport
import XCTest

@testable import Bluetooth

/// The host stack against ../shared/ble-rig: a Bumble virtual controller with six emulated
/// devices, whose values are fixed by its scenario.json. Each test starts its own rig.
final class HostRigTests: XCTestCase {
    static let expected: [(name: String, address: String, rssi: Int)] = [
        ("Rig HR Strap", "F0:00:00:00:18:0D", -55), ("Rig BP Cuff", "F0:00:00:00:18:10", -58),
        ("Rig Thermometer", "F0:00:00:00:18:09", -62), ("Rig Scale", "F0:00:00:00:18:1D", -65),
        ("Rig Oximeter", "F0:00:00:00:18:22", -57), ("Rig BTHome", "F0:00:00:00:FC:D2", -60),
    ]

    private func withHost(rig arguments: [String] = [], _ body: (BLERig, BluetoothHost) async throws -> Void) async throws {
        guard let rig = try BLERig.start(arguments) else { return }
        defer { rig.stop() }
        let host = try await BluetoothHost.open(try TransportAddress(parsing: rig.transport))
        do {
            try await body(rig, host)
        } catch {
            await host.close()
            throw error
        }
        await host.close()
        XCTAssertEqual(rig.hostBugs, [], "the rig flagged host mistakes")
    }

    /// Scans until every one of `names` has a report with a name (or `seconds` pass).
    private func scan(_ host: BluetoothHost, _ options: ScanOptions, names: Set<String>, seconds: Double = 5) async throws -> [BluetoothAddress: ScannedDevice] {
        let stream = try await host.startScan(options)
        var devices = ScannedDevices()
        let deadline = ContinuousClock.now + .seconds(seconds)
        let collector = Task {
            for await report in stream {
                devices.add(report)
                if names.isSubset(of: Set(devices.all.compactMap(\.name))) { break }
            }
            return devices
        }
        let watchdog = Task {
            try? await Task.sleep(until: deadline)
            try? await host.stopScan()
        }
        let result = await collector.value
        watchdog.cancel()
        try await host.stopScan()
        return Dictionary(uniqueKeysWithValues: result.all.map { ($0.address, $0) })
    }

    static func number(_ advert: BTHomeAdvert, _ name: String) -> Double? {
        guard case .number(let value) = advert.measurement(named: name)?.value else { return nil }
        return value.doubleValue
    }

    func testScanSeesEveryDeviceWithNameAddressAndRSSI() async throws {
        try await withHost { _, host in
            let info = await host.controller
            XCTAssertEqual(info?.usesExtendedCommands, true)
            XCTAssertEqual(info?.aclBufferLength, 27)
            let devices = try await scan(host, ScanOptions(active: false), names: Set(Self.expected.map(\.name)))
            for device in Self.expected {
                let address = try XCTUnwrap(BluetoothAddress(device.address, type: .random))
                let seen = try XCTUnwrap(devices[address], "\(device.name) not seen")
                XCTAssertEqual(seen.name, device.name)
                XCTAssertEqual(seen.rssi, device.rssi)
                XCTAssertEqual(seen.address.type, .random)
            }
            let hr = try XCTUnwrap(devices[BluetoothAddress("F0:00:00:00:18:0D")!])
            XCTAssertEqual(hr.services, [BluetoothUUID(uuid16: 0x180D)])
            XCTAssertTrue(hr.connectable)
            let bthome = try XCTUnwrap(devices[BluetoothAddress("F0:00:00:00:FC:D2")!])
            XCTAssertFalse(bthome.connectable)
            let advert = try XCTUnwrap(bthome.bthome)
            XCTAssertEqual(Self.number(advert, "battery"), 97)
            XCTAssertEqual(Self.number(advert, "temperature"), 21.5)
            XCTAssertEqual(Self.number(advert, "humidity"), 45)
            XCTAssertEqual(Self.number(advert, "packet_id"), 1)
        }
    }

    func testHeartRateStrapDiscoveryReadAndNotifications() async throws {
        try await withHost(rig: ["--only", "hr", "--notify-interval-ms", "50"]) { rig, host in
            let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!)
            let mtu = try await connection.exchangeMTU()
            XCTAssertGreaterThanOrEqual(mtu, 23)
            let services = try await connection.discoverAll()
            XCTAssertTrue(services.contains { $0.uuid == BluetoothUUID(uuid16: 0x180D) })
            XCTAssertTrue(services.contains { $0.uuid == BluetoothUUID(uuid16: 0x180A) })
            let location = try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A38)))
            let value = try await connection.read(location.valueHandle)
            XCTAssertEqual(value, [0x01])
            let measurement = try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A37)))
            XCTAssertEqual(measurement.valueHandle, 16)
            XCTAssertEqual(measurement.configurationHandle, 17)
            try await connection.subscribe(measurement)
            var beats: [Int] = []
            for await event in connection.events {
                guard case .notification(let handle, let bytes) = event, handle == measurement.valueHandle else { continue }
                let reading = try HealthDecoder.decode(.heartRateMeasurement, bytes)
                beats.append(Int(reading.values[0].value.doubleValue ?? -1))
                if beats.count == 4 { break }
            }
            XCTAssertEqual(beats, [72, 75, 78, 80])
            XCTAssertNotNil(rig.waitForEvent(containing: ["subscription"], timeout: 2))
            await connection.disconnect()
        }
    }

    func testBloodPressureIndicationIsConfirmed() async throws {
        try await withHost(rig: ["--only", "bp"]) { rig, host in
            let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:10", type: .random)!)
            try await connection.exchangeMTU()
            let services = try await connection.discoverAll()
            let measurement = try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A35)))
            XCTAssertTrue(measurement.properties.contains(.indicate))
            try await connection.subscribe(measurement)
            var reading: HealthReading?
            for await event in connection.events {
                if case .indication(let handle, let bytes) = event, handle == measurement.valueHandle {
                    reading = try HealthDecoder.decode(.bloodPressureMeasurement, bytes)
                    XCTAssertNil(rig.waitForEvent(containing: ["indication_confirmed"], timeout: 0.3), "confirmed before its consumer said so")
                    await connection.confirmIndication()
                    break
                }
            }
            let values = try XCTUnwrap(reading).values.map { $0.value.doubleValue }
            XCTAssertEqual(Array(values.prefix(3)), [120, 80, 93])
            XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed"], timeout: 5), "the rig saw no confirmation")
            await connection.disconnect()
        }
    }

    func testLegacyControllerGetsLegacyCommandsOnly() async throws {
        try await withHost(rig: ["--legacy-controller", "--only", "hr,bthome"]) { _, host in
            let info = await host.controller
            XCTAssertEqual(info?.usesExtendedCommands, false)
            let devices = try await scan(host, ScanOptions(active: true), names: ["Rig HR Strap", "Rig BTHome"])
            let hr = try XCTUnwrap(devices[BluetoothAddress("F0:00:00:00:18:0D")!])
            XCTAssertEqual(hr.txPower, 0, "the active scan merged the scan response")
            XCTAssertEqual(devices[BluetoothAddress("F0:00:00:00:FC:D2")!]?.connectable, false)
            let connection = try await host.connect(to: hr.address)
            let services = try await connection.discoverPrimaryServices()
            XCTAssertTrue(services.contains { $0.uuid == BluetoothUUID(uuid16: 0x180D) })
            await connection.disconnect()
        }
    }

    func testDisconnectionIsDetectedAndFailsLaterRequests() async throws {
        try await withHost(rig: ["--only", "hr,thermo,bthome"]) { _, host in
            let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!)
            await connection.disconnect()
            var reasons: [UInt8] = []
            for await event in connection.events {
                if case .disconnected(let reason) = event { reasons.append(reason) }
            }
            XCTAssertEqual(reasons, [0x16])
            do {
                _ = try await connection.read(3)
                XCTFail("a read on a closed link succeeded")
            } catch let error as BluetoothError {
                guard case .disconnected = error.kind else { return XCTFail("\(error)") }
            }
            // A non-connectable advertiser never answers: the attempt is cancelled (status 0x02).
            do {
                _ = try await host.connect(to: BluetoothAddress("F0:00:00:00:FC:D2", type: .random)!, timeout: .milliseconds(300))
                XCTFail("connected to a non-connectable advertiser")
            } catch let error as BluetoothError {
                XCTAssertEqual(error.kind, .timeout)
                XCTAssertTrue(error.message.contains("cancelled"), error.message)
            }
            // The host goes on: another device connects after.
            let thermometer = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:09", type: .random)!)
            let services = try await thermometer.discoverPrimaryServices()
            XCTAssertTrue(services.contains { $0.uuid == BluetoothUUID(uuid16: 0x1809) })
            await thermometer.disconnect()
        }
    }

    func testControllerLossEndsLinksAndTheHost() async throws {
        guard let rig = try BLERig.start(["--only", "hr", "--notify-interval-ms", "20"]) else { return }
        defer { rig.stop() }
        let host = try await BluetoothHost.open(try TransportAddress(parsing: rig.transport))
        let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!)
        let services = try await connection.discoverAll()
        try await connection.subscribe(try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A37))))
        var notifications = 0
        var reason: UInt8?
        for await event in connection.events {
            switch event {
            case .notification:
                notifications += 1
                if notifications == 3 { rig.stop() }
            case .disconnected(let why):
                reason = why
            case .indication:
                break
            }
        }
        XCTAssertGreaterThanOrEqual(notifications, 3)
        XCTAssertEqual(reason, 0x08)
        let failure = await host.failure
        XCTAssertEqual(failure?.kind, .transport)
        do {
            _ = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!, timeout: .seconds(1))
            XCTFail("connected without a controller")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .transport)
        }
        await host.close()
    }

    func testGarbageFromTheControllerDoesNotKillTheStack() async throws {
        guard let rig = try BLERig.start(["--only", "hr,bthome", "--notify-interval-ms", "20"]) else { return }
        defer { rig.stop() }
        // Octets no controller sends at a packet start (and one bogus event code behind 0x04).
        let proxy = try GarbageProxy(upstreamPort: rig.port, garbage: [0x00, 0xFF, 0x7A, 0x04, 0x99, 0x33, 0x13], every: 7)
        let host = try await BluetoothHost.open(.tcp(host: "127.0.0.1", port: proxy.port))
        let devices = try await scan(host, ScanOptions(), names: ["Rig HR Strap", "Rig BTHome"])
        XCTAssertEqual(devices[BluetoothAddress("F0:00:00:00:FC:D2")!]?.bthome.flatMap { Self.number($0, "temperature") }, 21.5)
        let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!)
        let services = try await connection.discoverAll()
        try await connection.subscribe(try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A37))))
        var notifications = 0
        for await event in connection.events {
            if case .notification = event { notifications += 1 }
            if notifications == 10 { break }
        }
        await connection.disconnect()
        let statistics = await host.statistics
        XCTAssertGreaterThan(proxy.garbageBytes, 0)
        XCTAssertEqual(statistics.transport.discardedBytes, proxy.garbageBytes, "every garbage octet is dropped and counted, no packet lost")
        XCTAssertGreaterThan(statistics.transport.resyncs, 0)
        let failure = await host.failure
        XCTAssertNil(failure)
        await host.close()
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testEncryptionRequiredSurfacesAsAnATTErrorAndPairingIsRefusedWithoutAManager() async throws {
        guard let directory = BLERig.directory else { return }
        // The cuff requires pairing and asks for it with a Security Request right after connecting.
        let scenario = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("scenario.json"))) as? [String: Any]
        var root = try XCTUnwrap(scenario)
        root["devices"] = (root["devices"] as? [[String: Any]] ?? []).filter { $0["id"] as? String == "bp" }.map { device in
            var device = device
            device["pairing"] = ["required": true, "sc_only": true, "bonding": true, "security_request": true]
            return device
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-ble-scenario-\(getpid()).json")
        try JSONSerialization.data(withJSONObject: root).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await withHost(rig: ["--scenario", file.path]) { _, host in
            let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:10", type: .random)!)
            let services = try await connection.discoverAll()
            let measurement = try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A35)))
            do {
                try await connection.subscribe(measurement)
                XCTFail("an unencrypted CCCD write succeeded")
            } catch let error as BluetoothError {
                XCTAssertEqual(error.kind, .att(code: 0x0F))
                XCTAssertTrue(error.needsSecurity)
            }
            // The Security Request reached the security stream and was answered Pairing Not Supported.
            var first: SecurityEvent?
            for await event in connection.securityEvents {
                first = event
                break
            }
            guard case .smp(let pdu) = first else { return XCTFail("no SMP PDU: \(String(describing: first))") }
            XCTAssertEqual(pdu.first, 0x0B)
            let refused = await host.statistics.refusedPairingRequests
            XCTAssertEqual(refused, 1)
            await connection.disconnect()
        }
    }

    func testConnectingToAnyOfSeveralDevicesThroughTheAcceptList() async throws {
        try await withHost(rig: ["--only", "bp,scale,bthome"]) { _, host in
            let wanted: Set<BluetoothAddress> = [BluetoothAddress("F0:00:00:00:18:10", type: .random)!, BluetoothAddress("F0:00:00:00:18:1D", type: .random)!]
            let connection = try await host.connect(toAnyOf: wanted, timeout: .seconds(5))
            XCTAssertTrue(wanted.contains(connection.peer), "\(connection.peer)")
            let services = try await connection.discoverPrimaryServices()
            XCTAssertTrue(services.contains { $0.uuid == BluetoothUUID(uuid16: 0x1810) || $0.uuid == BluetoothUUID(uuid16: 0x181D) })
            await connection.disconnect()
            // Only non-connectable devices on the list: the attempt is cancelled in time.
            do {
                _ = try await host.connect(toAnyOf: [BluetoothAddress("F0:00:00:00:FC:D2", type: .random)!], timeout: .milliseconds(300))
                XCTFail("connected to a non-connectable advertiser")
            } catch let error as BluetoothError {
                XCTAssertEqual(error.kind, .timeout)
            }
        }
    }

    func testUARTTransportThroughAPseudoTerminal() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/socat") else {
            print("SKIP: socat not installed")
            return
        }
        guard let rig = try BLERig.start(["--only", "hr"]) else { return }
        defer { rig.stop() }
        // socat bridges a pty (the "serial port") to the rig: the UART path end to end.
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-ble-tty-\(getpid())").path
        let socat = Process()
        socat.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        socat.arguments = ["PTY,link=\(link),raw,echo=0", "TCP:127.0.0.1:\(rig.port)"]
        try socat.run()
        defer {
            kill(socat.processIdentifier, SIGKILL)
            socat.waitUntilExit()
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: link) { try await Task.sleep(for: .milliseconds(20)) }
        let host = try await BluetoothHost.open(try TransportAddress(parsing: "uart:\(link):1000000"))
        let devices = try await scan(host, ScanOptions(), names: ["Rig HR Strap"])
        XCTAssertEqual(devices[BluetoothAddress("F0:00:00:00:18:0D")!]?.rssi, -55)
        let connection = try await host.connect(to: BluetoothAddress("F0:00:00:00:18:0D", type: .random)!)
        let services = try await connection.discoverAll()
        let location = try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A38)))
        let value = try await connection.read(location.valueHandle)
        XCTAssertEqual(value, [0x01])
        await connection.disconnect()
        await host.close()
        XCTAssertEqual(rig.hostBugs, [])
    }
}
