import Foundation
import JSONQuery
import TestSupport
import XCTest

/// `fhir-edge ble scan` and `ble gatt-dump` as scripts use them, against the rig.
final class BluetoothCommandTests: XCTestCase {
    func testScanPrintsOneJSONObjectPerDevice() throws {
        guard let rig = try BLERig.start() else { return }
        defer { rig.stop() }
        let result = try CommandRunner.run(["ble", "scan", "--transport", rig.transport, "--seconds", "1.5", "--json"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.stderr)
        let devices = try result.stdoutText.split(separator: "\n").map { try JSONValue(parsing: Array($0.utf8)) }
        var byAddress: [String: JSONObject] = [:]
        for case .object(let device) in devices { byAddress[device["address"]?.stringValue ?? ""] = device }
        XCTAssertEqual(byAddress.count, 6, result.stdoutText)
        for (name, address, rssi) in HostRigTests.expected {
            let device = try XCTUnwrap(byAddress[address], "\(name) missing")
            XCTAssertEqual(device["name"], .string(name))
            XCTAssertEqual(device["rssi"], .int(Int64(rssi)))
            XCTAssertEqual(device["addressType"], .string("random"))
        }
        XCTAssertEqual(byAddress["F0:00:00:00:18:10"]?["services"], .array([.string("1810")]))
        guard case .object(let bthome) = byAddress["F0:00:00:00:FC:D2"]?["bthome"], case .object(let values) = bthome["values"] else {
            return XCTFail("no BTHome values: \(result.stdoutText)")
        }
        XCTAssertEqual(values["temperature"], .double(21.5))
        XCTAssertEqual(values["battery"], .int(97))
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testGATTDumpOfTheHeartRateStrap() throws {
        guard let rig = try BLERig.start(["--only", "hr"]) else { return }
        defer { rig.stop() }
        let result = try CommandRunner.run(["ble", "gatt-dump", "F0:00:00:00:18:0D", "--transport", rig.transport, "--json"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.stderr)
        guard case .object(let dump) = try JSONValue(parsing: Array(result.stdout)), case .array(let services) = dump["services"] else {
            return XCTFail(result.stdoutText)
        }
        XCTAssertEqual(dump["mtu"], .int(247))
        let heartRate = services.compactMap { service -> JSONObject? in
            guard case .object(let object) = service, object["uuid"] == .string("180D") else { return nil }
            return object
        }.first
        guard case .array(let characteristics) = heartRate?["characteristics"] else { return XCTFail("no Heart Rate service: \(result.stdoutText)") }
        var byUUID: [String: JSONObject] = [:]
        for case .object(let characteristic) in characteristics { byUUID[characteristic["uuid"]?.stringValue ?? ""] = characteristic }
        XCTAssertEqual(byUUID["2A37"]?["properties"], .array([.string("notify")]))
        XCTAssertEqual(byUUID["2A37"]?["valueHandle"], .int(16))
        XCTAssertEqual(byUUID["2A37"]?["descriptors"], .array([.object(JSONObject([("uuid", "2902"), ("handle", .int(17))]))]))
        XCTAssertEqual(byUUID["2A38"]?["value"], .string("01"))
        XCTAssertTrue(result.stdoutText.contains("\"text\": \"HR-0001\"") || result.stdoutText.contains("\"text\":\"HR-0001\""), "serial number read")
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"disconnected\"", "\"hr\""], timeout: 5))
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testUnusableTransportsFailWithTheReason() throws {
        let kernel = try CommandRunner.run(["ble", "scan", "--transport", "hci:0", "--seconds", "1"], timeout: 30)
        XCTAssertEqual(kernel.status, 1)
        XCTAssertTrue(kernel.stderr.contains("hci:0: cannot open the HCI user channel"), kernel.stderr)
        let refused = try CommandRunner.run(["ble", "gatt-dump", "F0:00:00:00:18:0D", "--transport", "tcp:127.0.0.1:1"], timeout: 30)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("tcp:127.0.0.1:1: cannot connect"), refused.stderr)
        let malformed = try CommandRunner.run(["ble", "scan", "--transport", "usb:0"], timeout: 30)
        XCTAssertNotEqual(malformed.status, 0)
        XCTAssertTrue(malformed.stderr.contains("unknown kind"), malformed.stderr)
    }
}
