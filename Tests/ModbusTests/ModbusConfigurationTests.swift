import Foundation
import Gateway
import Modbus
import TestSupport
import XCTest

/// The `modbus:` sections: a profile's register map and the gateway's devices, validated at load
/// with every problem reported by key path.
final class ModbusConfigurationTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryDirectory("modbus-config")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func registerMap(_ yaml: String) throws -> RegisterMap {
        try yaml.write(to: folder.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
        return try ModbusProfiles.registerMap(folder: folder.path)
    }

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try registerMap(yaml)
            return []
        } catch let error as ConfigurationError {
            return error.problems.map { "\($0.keyPath): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    func testAMapWithDefaultsAndEveryKindOfPoint() throws {
        let map = try registerMap("""
            modbus:
              defaults: {unit: 7, interval: 2s, timeout: 250ms, interRequestDelay: 20ms, maxRegistersPerRequest: 60, maxGap: 3, retries: 2, merge: false}
              points:
                - {name: t, table: input, address: 1, type: int16, scale: 0.1, offset: -40, unit: Cel}
                - {name: p, table: holding, address: 100, type: float32, byteOrder: CDAB, unit: bar}
                - {name: total, table: holding, address: 112, type: float64, byteOrder: GHEFCDAB}
                - {name: label, table: holding, address: 20, type: string, length: 4}
                - {name: alarm, table: discrete, address: 0, type: bit}
                - {name: high, table: input, address: 5, type: "bit[3]"}
                - {name: plain, table: holding, address: 0}
            """)
        XCTAssertEqual(map.settings, ModbusPollSettings(
            unit: 7, interval: .seconds(2), timeout: .milliseconds(250), interRequestDelay: .milliseconds(20),
            maxRegistersPerRequest: 60, maxGap: 3, retries: 2, mergesRequests: false))
        XCTAssertEqual(map.points, [
            RegisterPoint(name: "t", table: .input, address: 1, type: .int16, scale: 0.1, offset: -40, unit: "Cel"),
            RegisterPoint(name: "p", table: .holding, address: 100, type: .float32, order: .cdab, unit: "bar"),
            RegisterPoint(name: "total", table: .holding, address: 112, type: .float64, order: .cdab),
            RegisterPoint(name: "label", table: .holding, address: 20, type: .string(registers: 4)),
            RegisterPoint(name: "alarm", table: .discrete, address: 0, type: .bit(index: nil)),
            RegisterPoint(name: "high", table: .input, address: 5, type: .bit(index: 3)),
            RegisterPoint(name: "plain", table: .holding, address: 0, type: .uint16),
        ])
    }

    func testModiconNumbersAreRefusedUnlessTheBaseIsExplicit() throws {
        XCTAssertEqual(problems("""
            modbus:
              points:
                - {name: a, table: holding, address: 40001}
                - {name: b, table: input, address: 30002}
            """), [
            "modbus.points[0].address: 40001 looks like a 1-based register number (40001 = holding 0); give the 0-based PDU address, or set addressBase: modicon (or 1)",
            "modbus.points[1].address: 30002 looks like a 1-based register number (40001 = holding 0); give the 0-based PDU address, or set addressBase: modicon (or 1)",
        ])
        let modicon = try registerMap("""
            modbus:
              addressBase: modicon
              points:
                - {name: a, table: holding, address: 40001}
                - {name: b, table: input, address: 30002}
                - {name: c, table: coil, address: 1, type: bit}
            """)
        XCTAssertEqual(modicon.points.map(\.address), [0, 1, 0])
        let oneBased = try registerMap("modbus:\n  addressBase: 1\n  points:\n    - {name: a, table: holding, address: 1}\n")
        XCTAssertEqual(oneBased.points.map(\.address), [0])
        XCTAssertEqual(problems("modbus:\n  addressBase: 1\n  points:\n    - {name: a, table: holding, address: 0}\n"),
                       ["modbus.points[0].address: 0 is not a register of the holding table with addressBase oneBased"])
    }

    func testEveryProblemIsReportedWithItsKeyPath() {
        XCTAssertEqual(problems("""
            modbus:
              defaults: {unit: 300, timout: 1s, maxRegistersPerRequest: 4}
              points:
                - {name: a, table: holding, address: 0, type: int8}
                - {name: b, table: coils, address: 0}
                - {name: c, table: coil, address: 0, type: uint16}
                - {name: d, table: holding, address: 0, type: bit}
                - {name: e, table: holding, address: 0, byteOrder: ACBD}
                - {name: f, table: holding, address: 65535, type: float32}
                - {name: g, table: holding, address: 10, type: string, length: 8}
                - {name: h, table: holding, address: 10, length: 2}
                - {table: holding}
                - {name: i, table: input, address: 1}
                - {name: i, table: input, address: 2}
            """), [
            "modbus.defaults.timout: unknown key; expected one of: interRequestDelay, interval, maxGap, maxRegistersPerRequest, merge, retries, timeout, unit",
            "modbus.defaults.unit: expected a number from 0 to 255",
            "modbus.points[0].type: expected int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bit[N] or bit",
            "modbus.points[1].table: expected holding, input, coil or discrete",
            "modbus.points[2]: coil holds bits: use type bit (or bool)",
            "modbus.points[3]: type bit on a register table needs the bit number: bit[0] … bit[15]",
            "modbus.points[4].byteOrder: expected AB, BA, ABCD, DCBA, BADC, CDAB, ABCDEFGH, HGFEDCBA, BADCFEHG or GHEFCDAB",
            "modbus.points[5]: address 65535 + 2 register(s) runs past 65535",
            "modbus.points[6].type: string[8] spans 8 registers, more than maxRegistersPerRequest 4",
            "modbus.points[7].length: length (in registers) applies to type string only",
            "modbus.points[8].name: missing",
            "modbus.points[8].address: missing",
            "modbus.points[10].name: duplicate point name i",
        ])
    }

    func testAProfileWithoutAMapIsAClearError() {
        XCTAssertEqual(problems("description: no registers\n"), ["modbus: missing; the profile has no register map"])
    }

    func gateway(_ modbus: String) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(
            yaml: "dataDir: data\nprofiles:\n  directory: profiles\n" + modbus, file: "fhir-edge.yaml", baseDirectory: folder.path)
    }

    func testDevicesOnTCPAndRTUWithOverrides() throws {
        let configuration = try gateway("""
            modbus:
              devices:
                room-101:
                  profile: modbus-room-monitor
                  tcp: 192.168.10.21:502
                  unit: 3
                  interval: 30s
                  patientId: p-7
                bed-12:
                  profile: modbus-patient-room-sensor
                  rtu: {device: /dev/ttyUSB0, baud: 9600, parity: n, stopBits: 2}
            """)
        let devices = configuration.modbus.devices
        XCTAssertEqual(devices.map(\.name), ["room-101", "bed-12"])
        XCTAssertEqual(devices[0].endpoint, .tcp(host: "192.168.10.21", port: 502))
        XCTAssertEqual(devices[0].patientID, "p-7")
        XCTAssertEqual(devices[0].overrides.applied(to: ModbusPollSettings()).unit, 3)
        XCTAssertEqual(devices[0].overrides.applied(to: ModbusPollSettings()).interval, .seconds(30))
        XCTAssertEqual(devices[1].endpoint, .rtu(ModbusSerialLine(device: "/dev/ttyUSB0", baud: 9600, parity: .none, dataBits: 8, stopBits: 2)))
        XCTAssertEqual(devices[1].overrides, ModbusSettingsOverrides())
    }

    func testDeviceProblemsAreReportedTogether() {
        XCTAssertThrowsError(try gateway("""
            modbus:
              devices:
                a: {tcp: "nowhere"}
                b: {profile: x}
                c: {profile: x, tcp: "10.0.0.1:502", rtu: {device: /dev/ttyS0}}
                d: {profile: x, rtu: {device: /dev/ttyS0, baud: 12345, parity: X}}
                e: {profile: x, rtu: {device: /dev/ttyS1, baud: 9600}}
                f: {profile: x, rtu: {device: /dev/ttyS1, baud: 19200}}
                g: {profile: x, tcp: "10.0.0.1:502", timeout: 2m, speed: 3}
            """)) { error in
            let problems = (error as? ConfigurationError)?.problems.map { "\($0.keyPath): \($0.message)" } ?? []
            XCTAssertEqual(problems, [
                "modbus.devices.a.profile: missing; name the device profile folder whose modbus: section describes the registers",
                "modbus.devices.a.tcp: expected HOST:PORT, e.g. 192.168.10.21:502",
                "modbus.devices.b: missing tcp: HOST:PORT or rtu: {device, baud, parity}",
                "modbus.devices.c: give tcp or rtu, not both",
                "modbus.devices.d.rtu.parity: expected N, E or O",
                "modbus.devices.d.rtu: baud 12345 is not a standard rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)",
                "modbus.devices.f.rtu: /dev/ttyS1 is already configured as /dev/ttyS1 9600 8E1; devices on one bus share its settings",
                "modbus.devices.g.speed: unknown key; expected one of: interRequestDelay, interval, maxGap, maxRegistersPerRequest, merge, patientId, profile, retries, rtu, tcp, timeout, unit",
                "modbus.devices.g.timeout: at most 60s: a request blocks its link for this long",
            ])
        }
    }

    func testConfigCheckNamesDevicesWhoseProfileIsMissingOrHasNoRegisterMap() throws {
        let profiles = folder.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
        for name in ["modbus-room-monitor", "demo-vitals"] {
            try FileManager.default.createSymbolicLink(
                at: profiles.appendingPathComponent(name), withDestinationURL: ProfileGoldenTests.profilesDirectory.appendingPathComponent(name))
        }
        let file = folder.appendingPathComponent("fhir-edge.yaml")
        try """
            dataDir: data
            profiles: {directory: profiles}
            modbus:
              devices:
                a: {profile: nope, tcp: "127.0.0.1:1502"}
                b: {profile: demo-vitals, tcp: "127.0.0.1:1502"}
                c: {profile: modbus-room-monitor, tcp: "127.0.0.1:1502"}
            """.write(to: file, atomically: true, encoding: .utf8)
        switch GatewayLauncher.load(file: file.path) {
        case .success:
            XCTFail("a missing profile and a profile without a register map must be refused")
        case .failure(let error):
            XCTAssertEqual(error.problems.map { "\($0.keyPath): \($0.message)" }, [
                "modbus.devices.a.profile: no profile folder nope under \(profiles.path)",
                "modbus: missing; the profile has no register map (used by modbus.devices.b.profile)",
            ])
        }
    }
}
