import EdgeCore
import EdgeCrypto
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Every reading through the real daemon is its own Observation: readings a few hundred
/// milliseconds apart never collapse, a resend adds nothing, and of a reading and its correction
/// posted together the later one is kept.
final class ReadingFidelityTests: XCTestCase {
    /// A demo-vitals heart-rate reading at a millisecond device time.
    private func reading(_ device: String, atMilliseconds ms: Int64, heartRate: Int) -> String {
        let time = Timestamp(millisecondsSinceEpoch: ms).iso8601
        return #"{"deviceId":"\#(device)","patientId":"patient-\#(device)","measuredAt":"\#(time)","heartRate":\#(heartRate)}"#
    }

    /// The buffered heart-rate Observations of the data directory, by effective start.
    private func heartRates(_ data: URL) throws -> [String: (id: String, value: Double)] {
        let export = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson", "--state", "all"])
        XCTAssertEqual(export.status, 0, export.stderr)
        var found: [String: (id: String, value: Double)] = [:]
        for line in export.stdoutText.split(separator: "\n") {
            let resource = try JSONValue(parsing: String(line))
            guard resource["resourceType"] == .string("Observation"), resource["code"]?["text"] == .string("heartrate"),
                  let start = resource["effectivePeriod"]?["start"]?.stringValue, let id = resource["id"]?.stringValue,
                  let value = resource["valueQuantity"]?["value"]?.doubleValue
            else { continue }
            XCTAssertNil(found[start], "two Observations for the reading at \(start)")
            XCTAssertEqual(resource["effectivePeriod"]?["end"]?.stringValue, start, "a reading is an instant, not a widened period")
            found[start] = (id, value)
        }
        return found
    }

    func testBurstOfReadingsGivesOneObservationPerReadingAndResendsAddNone() throws {
        let directory = try temporaryDirectory("fidelity")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.demo(dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        // 40 readings 100-400 ms apart (seeded), half in single requests, half in NDJSON batches.
        var random = SplitMix64(seed: 12)
        var time: Int64 = 1_795_000_000_000
        var readings: [(ms: Int64, line: String)] = []
        for index in 0..<40 {
            time += Int64(100 + Int(random.next() % 301))
            readings.append((time, reading("strap-1", atMilliseconds: time, heartRate: 60 + index)))
        }
        for (_, line) in readings.prefix(20) {
            let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json, body: Data(line.utf8))
            XCTAssertEqual(reply?.status, 202, reply?.text ?? daemon.log)
        }
        for batch in stride(from: 20, to: 40, by: 5) {
            let body = readings[batch..<(batch + 5)].map(\.line).joined(separator: "\n")
            let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(body.utf8))
            XCTAssertEqual(reply?.status, 202, reply?.text ?? daemon.log)
        }
        func settled() throws -> Bool {
            try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 }
        }
        XCTAssertTrue(try settled(), daemon.log.suffix(2000).description)
        let first = try heartRates(data)
        XCTAssertEqual(first.count, 40, "one Observation per reading")
        for (index, reading) in readings.enumerated() {
            let start = Timestamp(millisecondsSinceEpoch: reading.ms).iso8601
            XCTAssertEqual(first[start]?.value, Double(60 + index), "the reading at \(start) keeps its own value")
        }

        // The same 40 again (a device that lost the acknowledgements): nothing new.
        let again = readings.map(\.line).joined(separator: "\n")
        XCTAssertEqual(daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(again.utf8))?.status, 202)
        XCTAssertTrue(try settled())
        let second = try heartRates(data)
        XCTAssertEqual(second.count, 40, "a resend is no new reading")
        XCTAssertEqual(second.mapValues(\.id), first.mapValues(\.id), "a resend keeps the reading's id")
        let pending = try Pipeline.sql(data.appendingPathComponent("fhir-edge.sqlite").path,
                                       "SELECT COUNT(*) FROM outbox WHERE resource_type = 'Observation';")
        XCTAssertEqual(pending, ["40"], "one outbox row per reading")
    }

    func testACorrectionPostedWithItsReadingWins() throws {
        let directory = try temporaryDirectory("correction")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.demo(dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        let time: Int64 = 1_795_000_000_250
        for (values, device) in [([70, 75], "cuff-a"), ([75, 70], "cuff-b")] {
            let body = values.map { reading(device, atMilliseconds: time, heartRate: $0) }.joined(separator: "\n")
            XCTAssertEqual(daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(body.utf8))?.status, 202)
        }
        XCTAssertTrue(try Pipeline.eventually { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 })
        let export = try Pipeline.fhirEdge(["export", "--data-dir", data.path, "--format", "ndjson", "--state", "all"])
        var values: [String: Double] = [:]
        for line in export.stdoutText.split(separator: "\n") {
            let resource = try JSONValue(parsing: String(line))
            guard resource["code"]?["text"] == .string("heartrate"), let device = resource["device"]?["reference"]?.stringValue else { continue }
            XCTAssertNil(values[device], "one Observation per device and instant")
            values[device] = resource["valueQuantity"]?["value"]?.doubleValue
        }
        XCTAssertEqual(values["Device/" + SHA256.hexDigest("_cuff-a")], 75, "the later message of the request wins: \(values)")
        XCTAssertEqual(values["Device/" + SHA256.hexDigest("_cuff-b")], 70, "the later message of the request wins: \(values)")
    }
}
