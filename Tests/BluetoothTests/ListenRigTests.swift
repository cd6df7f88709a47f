import Foundation
import JSONQuery
import TestSupport
import XCTest

/// `fhir-edge ble listen` against ../shared/ble-rig: connects, subscribes to every standard
/// measurement characteristic and prints each reading as one JSON line. Values are the rig's
/// scenario.json.
final class ListenRigTests: XCTestCase {
    static let heartRateSequence: [Double] = [72, 75, 78, 80, 77, 74, 71, 69, 70, 73]

    struct Listened {
        var messages: [JSONObject]
        var result: CommandResult
    }

    func listen(
        _ address: String, rig: BLERig, seconds: Double, dataDirectory: URL, extra: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> Listened {
        let result = try CommandRunner.run(
            ["ble", "listen", address, "--transport", rig.transport, "--seconds", String(seconds), "--json",
             "--data-dir", dataDirectory.path] + extra,
            timeout: seconds + 30)
        var messages: [JSONObject] = []
        for text in result.stdoutText.split(separator: "\n") {
            guard let object = try? JSONValue(parsing: String(text)).objectValue else {
                XCTFail("not a JSON object line: \(text)", file: file, line: line)
                continue
            }
            messages.append(object)
        }
        return Listened(messages: messages, result: result)
    }

    static func number(_ message: JSONObject, _ name: String) -> Double? { message["values"]?[name]?.doubleValue }
    static func unit(_ message: JSONObject, _ name: String) -> String? { message["units"]?[name]?.stringValue }

    func testReceivesTheScriptedHeartRateSequence() throws {
        guard let rig = try BLERig.start(["--only", "hr", "--notify-interval-ms", "100"]) else { return }
        defer { rig.stop() }
        let directory = try temporaryDirectory("ble-listen-hr")
        defer { try? FileManager.default.removeItem(at: directory) }
        let listened = try listen("F0:00:00:00:18:0D", rig: rig, seconds: 2.5, dataDirectory: directory)
        XCTAssertEqual(listened.result.status, 0, listened.result.stderr)
        let rates = listened.messages.compactMap { Self.number($0, "heartRate") }
        XCTAssertGreaterThanOrEqual(rates.count, 10, "2.5 s at 100 ms; stderr: \(listened.result.stderr)")
        XCTAssertEqual(Array(rates.prefix(10)), Self.heartRateSequence)
        for message in listened.messages {
            XCTAssertEqual(message["characteristic"]?.stringValue, "heartRateMeasurement")
            XCTAssertEqual(message["deviceId"]?.stringValue, "F0-00-00-00-18-0D", "the PHD IG's EUI-48 form of the address")
            // The strap's Device Information Service, read on connect (rig: manufacturer, model, serial, firmware).
            XCTAssertEqual(message["device"], ["manufacturerName": "BLE Rig", "modelNumber": "RIG-HR", "serialNumber": "HR-0001", "firmwareRevision": "1.0.0"])
            XCTAssertEqual(Self.unit(message, "heartRate"), "/min")
            XCTAssertEqual(message["timeSource"]?.stringValue, "receiver", "the strap sends no timestamp")
        }
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"subscription\"", "\"hr\""], timeout: 1))
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testReceivesTheCuffThermometerScaleAndOximeterWithTheirDeviceTimes() throws {
        guard let rig = try BLERig.start(["--only", "bp,thermo,scale,spo2", "--notify-interval-ms", "100"]) else { return }
        defer { rig.stop() }
        let directory = try temporaryDirectory("ble-listen-devices")
        defer { try? FileManager.default.removeItem(at: directory) }

        // The cuff indicates its stored reading once; the gateway confirms it.
        let cuff = try listen("F0:00:00:00:18:10", rig: rig, seconds: 1.5, dataDirectory: directory)
        XCTAssertEqual(cuff.result.status, 0, cuff.result.stderr)
        XCTAssertEqual(cuff.messages.count, 1, cuff.result.stdoutText)
        let pressure = try XCTUnwrap(cuff.messages.first)
        XCTAssertEqual(pressure["characteristic"]?.stringValue, "bloodPressureMeasurement")
        XCTAssertEqual(Self.number(pressure, "systolic"), 120)
        XCTAssertEqual(Self.number(pressure, "diastolic"), 80)
        XCTAssertEqual(Self.number(pressure, "meanArterialPressure"), 93)
        XCTAssertEqual(Self.number(pressure, "pulseRate"), 72)
        XCTAssertEqual(Self.unit(pressure, "systolic"), "mm[Hg]")
        XCTAssertEqual(pressure["time"]?.stringValue, "2024-01-15T08:30:00.000Z")
        XCTAssertEqual(pressure["timeSource"]?.stringValue, "device")
        XCTAssertEqual(pressure["device"]?["modelNumber"]?.stringValue, "RIG-BP", "read on the encrypted link too")
        XCTAssertEqual(pressure["device"]?["serialNumber"]?.stringValue, "BP-0001")
        XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed", "\"bp\""], timeout: 2), "the indication was confirmed")

        let thermometer = try listen("F0:00:00:00:18:09", rig: rig, seconds: 1.5, dataDirectory: directory)
        let temperature = try XCTUnwrap(thermometer.messages.first, thermometer.result.stderr)
        XCTAssertEqual(temperature["characteristic"]?.stringValue, "temperatureMeasurement")
        XCTAssertEqual(Self.number(temperature, "temperature"), 36.6)
        XCTAssertEqual(Self.unit(temperature, "temperature"), "Cel")
        XCTAssertEqual(temperature["time"]?.stringValue, "2024-01-15T08:31:00.000Z")

        let scale = try listen("F0:00:00:00:18:1D", rig: rig, seconds: 1.5, dataDirectory: directory)
        let weight = try XCTUnwrap(scale.messages.first, scale.result.stderr)
        XCTAssertEqual(weight["characteristic"]?.stringValue, "weightMeasurement")
        XCTAssertEqual(Self.number(weight, "weight"), 72.4)
        XCTAssertEqual(Self.unit(weight, "weight"), "kg")
        XCTAssertEqual(Self.number(weight, "bmi"), 23.6)
        XCTAssertEqual(Self.number(weight, "height"), 175)
        XCTAssertEqual(weight["time"]?.stringValue, "2024-01-15T07:00:00.000Z")

        let oximeter = try listen("F0:00:00:00:18:22", rig: rig, seconds: 1.5, dataDirectory: directory)
        let pairs = oximeter.messages.map { (Self.number($0, "spo2"), Self.number($0, "pulseRate")) }
        XCTAssertGreaterThanOrEqual(pairs.count, 4, oximeter.result.stderr)
        let expected: [(Double, Double)] = [(98, 72), (97, 74), (98, 73), (99, 71)]
        for (got, want) in zip(pairs, expected) {
            XCTAssertEqual(got.0, want.0)
            XCTAssertEqual(got.1, want.1)
        }
        XCTAssertEqual(oximeter.messages.first?["characteristic"]?.stringValue, "plxContinuousMeasurement")
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testACuffThatRequiresPairingIsPairedOnceThenReencryptedWithTheBond() throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let directory = try temporaryDirectory("ble-listen-pairing")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The cuff refuses the subscription (ATT 0x0F) until the link is encrypted: listen pairs,
        // bonds (keys under the data dir) and subscribes again.
        let first = try listen("F0:00:00:00:18:10", rig: rig, seconds: 2, dataDirectory: directory)
        XCTAssertEqual(first.result.status, 0, first.result.stderr)
        XCTAssertEqual(first.messages.first.flatMap { Self.number($0, "systolic") }, 120, first.result.stderr)
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bonded\": true"], timeout: 2))
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("bluetooth/bonds.json").path))

        // The next connection re-encrypts with the stored key: no second pairing.
        let second = try listen("F0:00:00:00:18:10", rig: rig, seconds: 2, dataDirectory: directory)
        XCTAssertEqual(second.result.status, 0, second.result.stderr)
        XCTAssertEqual(second.messages.first.flatMap { Self.number($0, "systolic") }, 120, second.result.stderr)
        let events = rig.events
        XCTAssertEqual(events.filter { $0.contains("\"type\": \"paired\"") }.count, 1, "\(events)")
        XCTAssertEqual(events.filter { $0.contains("\"type\": \"encryption_changed\"") && $0.contains("\"encrypted\": true") }.count, 2)
        XCTAssertEqual(events.filter { $0.contains("\"type\": \"pairing_failed\"") }, [])
        XCTAssertEqual(events.filter { $0.contains("indication_confirmed") }.count, 2)
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testADeviceThatNeverAdvertisesExitsOneWithTheReason() throws {
        guard let rig = try BLERig.start(["--only", "hr"]) else { return }
        defer { rig.stop() }
        let directory = try temporaryDirectory("ble-listen-absent")
        defer { try? FileManager.default.removeItem(at: directory) }
        let listened = try listen("F0:00:00:00:00:01", rig: rig, seconds: 1.5, dataDirectory: directory, extra: ["--connect-timeout", "0.5"])
        XCTAssertEqual(listened.result.status, 1)
        XCTAssertEqual(listened.messages.count, 0)
        XCTAssertTrue(listened.result.stderr.contains("did not advertise"), listened.result.stderr)
    }
}
