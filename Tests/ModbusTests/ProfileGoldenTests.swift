import EdgeCore
import FHIRModel
import Foundation
import Gateway
import JSONQuery
import Mapping
import Modbus
import TestSupport
import XCTest

/// Each `device-profiles/modbus-*/testcases/*.json` holds the registers a device answers (from
/// ../shared/modbus-rig's map at one tick) and the message and Observations the gateway must make
/// of them. `FHIR_EDGE_RECORD_GOLDEN=1` rewrites the expectations (review the diff).
final class ProfileGoldenTests: XCTestCase {
    /// Answers from a table of registers; anything else is "illegal data address", as the devices do.
    struct ReplayLink: ModbusLink {
        let endpoint = "replay"
        let tables: [String: [Int: UInt16]]

        func read(_ request: ModbusReadRequest, timeout: Duration) async throws(ModbusError) -> ModbusReply {
            let table = tables[request.table.rawValue] ?? [:]
            var words: [UInt16] = []
            for address in Int(request.address)..<(Int(request.address) + Int(request.count)) {
                guard let word = table[address] else {
                    throw ModbusError(.exception(.illegalDataAddress), "replay: \(request): illegal data address")
                }
                words.append(word)
            }
            return request.table.holdsWords ? .registers(words) : .bits(words.map { $0 != 0 })
        }

        func close() async {}
    }

    static var profilesDirectory: URL { Conformance.packageRoot.appendingPathComponent("device-profiles") }

    func testEveryModbusProfileMatchesItsGoldenCases() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.profilesDirectory.path).filter { $0.hasPrefix("modbus-") }.sorted()
        XCTAssertEqual(names, ["modbus-gas-panel", "modbus-patient-room-sensor", "modbus-room-monitor"])
        let record = ProcessInfo.processInfo.environment["FHIR_EDGE_RECORD_GOLDEN"] == "1"
        var cases = 0
        for name in names {
            let folder = Self.profilesDirectory.appendingPathComponent(name)
            let (profile, map) = try ModbusProfiles.load(folder: folder.path)
            let caseFolder = folder.appendingPathComponent("testcases")
            for file in try FileManager.default.contentsOfDirectory(atPath: caseFolder.path).filter({ $0.hasSuffix(".json") }).sorted() {
                let url = caseFolder.appendingPathComponent(file)
                let context = "\(name)/testcases/\(file)"
                guard case .object(var golden) = try JSONValue(parsing: [UInt8](Data(contentsOf: url))) else {
                    return XCTFail("\(context): not an object")
                }
                var tables: [String: [Int: UInt16]] = [:]
                for (table, registers) in golden["registers"]?.objectValue?.members ?? JSONObject().members {
                    for (address, word) in registers.objectValue?.members ?? JSONObject().members {
                        tables[table, default: [:]][Int(address) ?? -1] = UInt16(word.doubleValue ?? -1)
                    }
                }
                let time = try XCTUnwrap(golden["time"]?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:)), context)
                let device = ModbusDevice(
                    name: golden["deviceId"]?.stringValue ?? name, profile: profile.id, patientID: golden["patientId"]?.stringValue,
                    points: map.points, settings: map.settings)
                let poller = ModbusLinkPoller(
                    link: ReplayLink(tables: tables), devices: [], clock: ContinuousClock(), wallClock: { time }, onPoll: { _ in })
                let result = await poller.poll(device)
                XCTAssertTrue(result.isComplete, "\(context): \(result.failures)")
                let message = try XCTUnwrap(result.message, context)
                let measurements = try profile.deviceTemplates.normalize(message, ingestionTime: time)
                let converted = profile.converter.convert(measurements, issued: time)
                XCTAssertEqual(converted.errors.map(\.message), [], context)
                let observations = JSONValue.array(converted.observations.map(\.json))
                XCTAssertGreaterThanOrEqual(converted.observations.count, 4, context)
                if record {
                    golden["message"] = message
                    golden["observations"] = observations
                    var bytes: [UInt8] = []
                    JSONWriter(options: [.pretty]).write(.object(golden), into: &bytes)
                    try Data(bytes + [0x0A]).write(to: url)
                } else {
                    XCTAssertEqual(message, golden["message"], "\(context): message")
                    XCTAssertEqual(observations, golden["observations"], "\(context): observations")
                }
                cases += 1
            }
        }
        XCTAssertEqual(cases, 6)
    }
}
