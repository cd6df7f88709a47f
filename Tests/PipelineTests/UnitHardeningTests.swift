import Foundation
import TestSupport
import XCTest

/// The packaged systemd unit as `systemd-analyze security --offline=yes` scores it: the base unit
/// and the serial drop-in within 2.0; the Bluetooth drop-in adds only what the HCI user channel needs.
final class UnitHardeningTests: XCTestCase {
    static let systemd = Conformance.packageRoot.appendingPathComponent("packaging/systemd")

    /// The overall exposure of a unit file (lower is better; 10 is unconfined).
    private func exposure(of unit: URL) throws -> Double {
        let analyze = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        guard FileManager.default.isExecutableFile(atPath: analyze.path) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw HarnessFailure(description: "systemd-analyze is missing; scripts/setup.sh installs systemd") }
            throw XCTSkip("systemd-analyze is not installed")
        }
        let run = try CommandRunner.run(["security", "--offline=yes", "--no-pager", unit.path], executable: analyze)
        let line = run.stdoutText.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        guard let colon = line.lastIndex(of: ":"),
              let value = Double(line[line.index(after: colon)...].split(separator: " ").first ?? "") else {
            throw HarnessFailure(description: "no exposure level in: \(run.stdoutText.suffix(500)) \(run.stderr)")
        }
        return value
    }

    /// The unit with a drop-in appended: a repeated [Service] section merges as a drop-in does.
    private func unit(with dropIn: String) throws -> URL {
        let directory = try temporaryDirectory("unit")
        let file = directory.appendingPathComponent("fhir-edge-\(dropIn).service")
        let base = try Data(contentsOf: Self.systemd.appendingPathComponent("fhir-edge.service"))
        let extra = try Data(contentsOf: Self.systemd.appendingPathComponent("\(dropIn).conf"))
        try (base + Data("\n".utf8) + extra).write(to: file)
        return file
    }

    func testPackagedUnitExposureStaysWithinBounds() throws {
        let base = try exposure(of: Self.systemd.appendingPathComponent("fhir-edge.service"))
        let serial = try exposure(of: unit(with: "serial"))
        let bluetooth = try exposure(of: unit(with: "bluetooth"))
        print("systemd-analyze exposure: unit \(base), with serial.conf \(serial), with bluetooth.conf \(bluetooth)")
        XCTAssertLessThanOrEqual(base, 2.0, "the base unit")
        XCTAssertLessThanOrEqual(serial, 2.0, "with serial.conf")
        XCTAssertLessThanOrEqual(bluetooth, 2.5, "with bluetooth.conf (CAP_NET_ADMIN in the host namespace is what the user channel needs)")
        let text = try String(contentsOf: Self.systemd.appendingPathComponent("fhir-edge.service"), encoding: .utf8)
        XCTAssertFalse(text.contains("CAP_NET_ADMIN"), "Bluetooth capabilities only in the drop-in")
        XCTAssertTrue(text.contains("LimitNOFILE="))
    }

    /// The daemon's memory holds readings in clear and the store's keys, so the unit keeps it off
    /// the disk: no swap, no core dump, and neither undone by a drop-in the package ships.
    func testThePackagedUnitKeepsTheDaemonsMemoryOffTheDisk() throws {
        let settings = try serviceSettings(of: Self.systemd.appendingPathComponent("fhir-edge.service"))
        XCTAssertEqual(settings["MemorySwapMax"], ["0"], "swap would write patient data in clear")
        XCTAssertEqual(settings["LimitCORE"], ["0"], "a core dump would store patient data and the keys in clear")
        for dropIn in ["serial", "bluetooth"] {
            let extra = try serviceSettings(of: Self.systemd.appendingPathComponent("\(dropIn).conf"))
            XCTAssertNil(extra["MemorySwapMax"], "\(dropIn).conf")
            XCTAssertNil(extra["LimitCORE"], "\(dropIn).conf")
        }
    }

    /// Every `key=value` of a unit's [Service] section, in order, comments left out.
    private func serviceSettings(of unit: URL) throws -> [String: [String]] {
        var settings: [String: [String]] = [:]
        var inService = false
        for line in try String(contentsOf: unit, encoding: .utf8).split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") { inService = trimmed == "[Service]"; continue }
            guard inService, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            settings[String(trimmed[..<equals]), default: []].append(String(trimmed[trimmed.index(after: equals)...]))
        }
        return settings
    }
}
