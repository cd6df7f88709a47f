import Foundation
import JSONQuery
import TestSupport
import XCTest

/// `fhir-edge modbus poll` through the built binary: the plan without a device, one poll of the
/// rig with its message and Observations, and a unit that never answers.
final class ModbusPollCommandTests: XCTestCase {
    static var profile: String { ProfileGoldenTests.profilesDirectory.appendingPathComponent("modbus-patient-room-sensor").path }

    func testPlanIsPrintedWithoutConnecting() throws {
        let result = try CommandRunner.run(["modbus", "poll", "--profile", Self.profile, "--plan"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try JSONValue(parsing: [UInt8](result.stdout))
        XCTAssertEqual(output["plan"], [
            "unit 3 holding 1+4: occupancy light_level noise_level bed_exit_alarm", "unit 3 holding 20+4: room_label",
            "unit 3 input 1+1: temperature",
        ])
        XCTAssertEqual(output["registers"], .int(9))
    }

    func testOnePollPrintsTheMessageAndItsObservations() throws {
        guard let rig = try ModbusPeer.start(.rig, .tcp, extraArguments: ["--clock", "fixed", "--start-tick", "25"]) else { return }
        defer { rig.stop() }
        let result = try CommandRunner.run([
            "modbus", "poll", "--profile", Self.profile, "--tcp", "127.0.0.1:\(rig.port)", "--patient-id", "patient-0017",
            "--device-id", "room-12a-sensor",
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try JSONValue(parsing: [UInt8](result.stdout))
        let golden = try JSONValue(parsing: [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.profile + "/testcases/tick-25.json"))))
        XCTAssertEqual(output["messages"]?.arrayValue?.first?["points"], golden["message"]?["points"])
        XCTAssertEqual(output["messages"]?.arrayValue?.first?["patientId"], "patient-0017")
        let codes = output["observations"]?.arrayValue?.compactMap { $0["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue }
        XCTAssertEqual(codes, ["60832-3", "room-illuminance", "room-noise-level", "bed-exit-alarm"])
        XCTAssertEqual(output["errors"], [])

        let silent = try CommandRunner.run([
            "modbus", "poll", "--profile", Self.profile, "--tcp", "127.0.0.1:\(rig.port)", "--unit", "4", "--timeout-ms", "300",
        ])
        XCTAssertEqual(silent.status, 1)
        XCTAssertTrue(silent.stderr.contains("timeout"), silent.stderr)
    }

    func testAnUnusableProfileIsAUsageError() throws {
        let result = try CommandRunner.run(["modbus", "poll", "--profile", "/nonexistent/profile", "--plan"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("unusable profile"), result.stderr)
    }
}
