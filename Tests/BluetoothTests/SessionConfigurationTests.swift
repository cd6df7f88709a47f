import Bluetooth
import Gateway
import XCTest

/// The `bluetooth:` section of the gateway configuration: typed, validated at load, every
/// problem reported at once with its key path.
final class SessionConfigurationTests: XCTestCase {
    let head = """
        dataDir: data
        profiles:
          directory: profiles

        """

    func decode(_ yaml: String) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(yaml: head + yaml, file: "gateway.yaml", baseDirectory: "/etc/fhir-edge")
    }

    func problems(_ yaml: String) -> [ConfigurationProblem] {
        do {
            _ = try decode(yaml)
            XCTFail("expected problems")
            return []
        } catch let error as ConfigurationError {
            return error.problems
        } catch {
            XCTFail("unexpected \(error)")
            return []
        }
    }

    func testReadsTransportScanningTimingDevicesAndSensors() throws {
        let configuration = try decode("""
            bluetooth:
              transport: tcp:127.0.0.1:9000
              scanning: active
              reconnect: {base: 500ms, cap: 1m}
              connectTimeout: 5s
              devices:
                "f0:00:00:00:18:10": {profile: ble-blood-pressure, requirePairing: true, patientId: p-17}
                F0:00:00:00:18:0D:
                  profile: ble-heart-rate
                  allowLegacyPairing: true
              bthome:
                "F0:00:00:00:FC:D2": {}
                "A4:C1:38:00:00:01": {profile: room-sensor, patientId: p-18, bindKey: 231d39c1d7cc1ab1aee224cd096db932}
            """)
        let bluetooth = try XCTUnwrap(configuration.bluetooth)
        XCTAssertEqual(bluetooth.transport, .tcp(host: "127.0.0.1", port: 9000))
        XCTAssertEqual(bluetooth.scanning, .active)
        XCTAssertEqual(bluetooth.reconnectBase, .milliseconds(500))
        XCTAssertEqual(bluetooth.reconnectCap, .seconds(60))
        XCTAssertEqual(bluetooth.connectTimeout, .seconds(5))
        XCTAssertEqual(bluetooth.devices, [
            .init(address: "F0:00:00:00:18:0D", profile: "ble-heart-rate", requirePairing: false, allowLegacyPairing: true),
            .init(address: "F0:00:00:00:18:10", profile: "ble-blood-pressure", requirePairing: true, allowLegacyPairing: false, patientID: "p-17"),
        ])
        XCTAssertEqual(bluetooth.bthome, [
            .init(address: "A4:C1:38:00:00:01", profile: "room-sensor", patientID: "p-18",
                  bindKey: [0x23, 0x1D, 0x39, 0xC1, 0xD7, 0xCC, 0x1A, 0xB1, 0xAE, 0xE2, 0x24, 0xCD, 0x09, 0x6D, 0xB9, 0x32]),
            .init(address: "F0:00:00:00:FC:D2", profile: "ble-bthome"),
        ])
    }

    func testDefaultsAndEveryTransportForm() throws {
        for (text, expected) in [
            ("hci:0", TransportAddress.userChannel(adapter: 0)),
            ("uart:/dev/ttyUSB0:1000000", .uart(path: "/dev/ttyUSB0", baudRate: 1_000_000, flowControl: true)),
            ("tcp:localhost:9000", .tcp(host: "localhost", port: 9000)),
        ] {
            let configuration = try decode("""
                bluetooth:
                  transport: \(text)
                  bthome:
                    "F0:00:00:00:FC:D2":
                """)
            let bluetooth = try XCTUnwrap(configuration.bluetooth)
            XCTAssertEqual(bluetooth.transport, expected)
            XCTAssertEqual(bluetooth.scanning, .passive)
            XCTAssertEqual(bluetooth.reconnectBase, .seconds(1))
            XCTAssertEqual(bluetooth.reconnectCap, .seconds(30))
            XCTAssertEqual(bluetooth.bthome.map(\.profile), ["ble-bthome"])
        }
        XCTAssertNil(try decode("").bluetooth)
    }

    func testEveryProblemIsReportedWithItsKeyPath() {
        let found = problems("""
            bluetooth:
              transport: usb:0
              scanning: loud
              reconnect: {base: 10s, cap: 1s}
              radio: on
              devices:
                "F0:00:00:00:18": {profile: ble-heart-rate}
                "F0:00:00:00:18:0D": {requirePairing: yes}
                "F0:00:00:00:18:10": {profile: ble-blood-pressure, pin: 1234}
              bthome:
                "f0:00:00:00:18:10": {profile: ble-bthome}
                "F0:00:00:00:FC:D2": {bindKey: 231d39}
            """)
        let paths = Set(found.map(\.keyPath))
        for path in [
            "bluetooth.transport", "bluetooth.scanning", "bluetooth.reconnect.cap", "bluetooth.radio",
            "bluetooth.devices.F0:00:00:00:18", "bluetooth.devices.F0:00:00:00:18:0D.profile",
            "bluetooth.devices.F0:00:00:00:18:0D.requirePairing", "bluetooth.devices.F0:00:00:00:18:10.pin",
            "bluetooth.bthome.f0:00:00:00:18:10", "bluetooth.bthome.F0:00:00:00:FC:D2.bindKey",
        ] {
            XCTAssertTrue(paths.contains(path), "no problem at \(path); found \(found)")
        }
        let duplicate = found.first { $0.keyPath == "bluetooth.bthome.f0:00:00:00:18:10" }
        XCTAssertTrue(duplicate?.message.contains("already listed at bluetooth.devices.F0:00:00:00:18:10") == true, "\(String(describing: duplicate))")
        XCTAssertTrue(found.allSatisfy { $0.file == "gateway.yaml" })
        XCTAssertTrue(found.contains { $0.keyPath == "bluetooth.transport" && $0.line == 5 }, "problems carry the line: \(found)")
    }

    func testRepairWhenKeyMissingIsOffUnlessSetAndMustBeABoolean() throws {
        let configuration = try decode("""
            bluetooth:
              transport: hci:0
              devices:
                "F0:00:00:00:18:10": {profile: ble-blood-pressure, requirePairing: true, repairWhenKeyMissing: true}
                "F0:00:00:00:18:0D": {profile: ble-heart-rate}
            """)
        let devices = try XCTUnwrap(configuration.bluetooth).devices
        XCTAssertEqual(devices.map(\.repairWhenKeyMissing), [false, true])
        let found = problems("""
            bluetooth:
              transport: hci:0
              devices:
                "F0:00:00:00:18:10": {profile: ble-blood-pressure, repairWhenKeyMissing: sometimes}
            """)
        XCTAssertEqual(found.map(\.keyPath), ["bluetooth.devices.F0:00:00:00:18:10.repairWhenKeyMissing"])
    }

    func testClockToleranceIsSixtySecondsUnlessSetAndMustBeWholeSeconds() throws {
        let configuration = try decode("""
            bluetooth:
              transport: hci:0
              devices:
                "F0:00:00:00:18:09": {profile: ble-thermometer, clockTolerance: 2m}
                "F0:00:00:00:18:0D": {profile: ble-heart-rate}
            """)
        XCTAssertEqual(try XCTUnwrap(configuration.bluetooth).devices.map(\.clockToleranceSeconds), [120, 60])
        let found = problems("""
            bluetooth:
              transport: hci:0
              devices:
                "F0:00:00:00:18:09": {profile: ble-thermometer, clockTolerance: 1500ms}
                "F0:00:00:00:18:0D": {profile: ble-heart-rate, clockTolerance: soon}
            """)
        XCTAssertEqual(Set(found.map(\.keyPath)), [
            "bluetooth.devices.F0:00:00:00:18:09.clockTolerance", "bluetooth.devices.F0:00:00:00:18:0D.clockTolerance",
        ])
    }

    func testASectionWithoutTransportOrDevicesIsAProblem() {
        let found = problems("""
            bluetooth:
              scanning: passive
            """)
        XCTAssertEqual(Set(found.map(\.keyPath)), ["bluetooth.transport", "bluetooth"])
    }
}
