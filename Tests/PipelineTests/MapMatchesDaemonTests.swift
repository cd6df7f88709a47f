import EdgeCore
import Foundation
@testable import Gateway
import JSONQuery
import Store
import TestSupport
import XCTest

/// `fhir-edge map --profile` is the daemon's mapping, not a copy of it: for every bundled
/// profile's test cases, the Observations the command prints are, byte for byte, those the
/// mapping stage queues for the same messages received at the same time.
final class MapMatchesDaemonTests: XCTestCase {
    func testMapPrintsTheDaemonsObservationsForEveryBundledTestCase() throws {
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let receivedAt = "2026-11-27T09:00:00.000Z"
        let time = try XCTUnwrap(Timestamp(parsingISO8601Lenient: receivedAt))
        var cases = 0
        var observations = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: profiles.path).sorted() {
            let folder = profiles.appendingPathComponent(name)
            let testcases = folder.appendingPathComponent("testcases")
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: testcases.path) else { continue }
            let profile = try DeviceProfile.load(folder: folder.path)
            let transport: Transport = name.hasPrefix("ble-") ? .ble : name.hasPrefix("modbus-") ? .modbus : .http
            for input in files.filter({ $0.hasSuffix(".json") && !$0.hasSuffix("-expected.json") }).sorted() {
                var file = testcases.appendingPathComponent(input)
                var document = try JSONValue(parsing: try Data(contentsOf: file))
                var scratch: URL?
                defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
                // A Modbus golden poll holds the message the poll builds: that message is the case.
                if let polled = document["message"] {
                    document = polled
                    file = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-map-\(UUID().uuidString).json")
                    scratch = file
                    try JSONWriter().string(polled).write(to: file, atomically: true, encoding: .utf8)
                }
                let messages = document.arrayValue ?? [document]
                let items = messages.enumerated().map { index, message in
                    InboxItem(id: InboxID(Int64(index)), message: InboxMessage(
                        profile: profile.id, transport: transport, sourceID: "test", receivedAt: time,
                        payload: Array(JSONWriter().string(message).utf8)))
                }
                let (result, _) = MappingStage.map(items, catalog: DeviceProfileCatalog([profile]), issued: time)
                let daemon = result.resources.filter { $0.resourceType == "Observation" }.map(\.body)

                let run = try CommandRunner.run([
                    "map", "--profile", folder.path, "--received-at", receivedAt, "--transport", transport.rawValue, file.path,
                ])
                XCTAssertEqual(run.status, 0, "\(name)/\(input): \(run.stderr)")
                let printed = try JSONValue(parsing: run.stdout)["observations"]?.arrayValue ?? []
                // The command pretty-prints; written compactly again, each must be the stored text.
                let mapped = printed.map { JSONWriter().string($0) }
                XCTAssertFalse(daemon.isEmpty, "\(name)/\(input) yields Observations")
                XCTAssertEqual(mapped.count, daemon.count, "\(name)/\(input): as many Observations")
                for (index, (got, want)) in zip(mapped, daemon).enumerated() {
                    XCTAssertEqual(got, want, "\(name)/\(input) Observation \(index)")
                }
                cases += 1
                observations += daemon.count
            }
        }
        XCTAssertGreaterThan(cases, 0, "the bundled profiles have test cases")
        print("map = daemon: \(cases) test case files, \(observations) Observations")
    }
}
