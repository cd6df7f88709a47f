import Foundation
import JSONQuery
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `fhir-edge demo --mllp-listen` against a real HL7 sender (Tests/peers/mllp_peer.py, python-hl7):
/// ACK codes, the Observations `export` shows, and SIGKILL while a sender streams.
final class MLLPPeerTests: XCTestCase {
    static let peer = Conformance.packageRoot.appendingPathComponent("Tests/peers/mllp_peer.py").path
    static let samples = Conformance.packageRoot.appendingPathComponent("device-profiles/hl7-pcd01-vitals/testcases").path

    private func daemon(_ directory: URL, mllpPort: Int) -> DaemonProcess {
        DaemonProcess(
            arguments: ["demo", "--data-dir", directory.path, "--listen", "127.0.0.1:0", "--mllp-listen", "127.0.0.1:\(mllpPort)"],
            dataDirectory: directory)
    }

    private func python(_ arguments: [String], log: URL) throws -> ChildProcess {
        try ChildProcess(name: "mllp-peer", executable: BLERig.python, arguments: [Self.peer] + arguments,
                         directory: Conformance.packageRoot, log: log)
    }

    /// The Observations of `export --state all`, as objects.
    private func observations(_ directory: URL) throws -> [JSONValue] {
        let result = try Pipeline.fhirEdge(["export", "--data-dir", directory.path, "--state", "all"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return String(decoding: result.stdout, as: UTF8.self).split(separator: "\n")
            .compactMap { try? JSONValue(parsing: Array($0.utf8)) }
            .filter { $0["resourceType"] == "Observation" }
    }

    private func mdc(_ observation: JSONValue) -> String? {
        observation["code"]?["coding"]?.arrayValue?.first { $0["system"] == "urn:iso:std:iso:11073:10101" }?["code"]?.stringValue
    }

    func testPCD01MessagesAreAcknowledgedAfterCommitAndBecomeObservations() throws {
        let directory = try temporaryDirectory("mllp")
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freeLoopbackPort()
        let gateway = daemon(directory, mllpPort: port)
        try gateway.start()
        let output = directory.appendingPathComponent("peer.json")
        let peer = try python(["scenario", "--port", "\(port)", "--samples", Self.samples], log: output)
        XCTAssertEqual(peer.finish(timeout: 60), 0, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
        let text = try String(contentsOf: output, encoding: .utf8)
        let results = try XCTUnwrap(try? JSONValue(parsing: Array((text.split(separator: "\n").last.map(String.init) ?? "").utf8)), text)

        for name in ["bedside-monitor.hl7", "spot-check-v27.hl7", "two-groups", "v2.3", "duplicate"] {
            XCTAssertEqual(results[name]?["msa"], "AA", "\(name): \(text)")
        }
        XCTAssertEqual(results["bedside-monitor.hl7"]?["control"], "MSG00001")
        XCTAssertEqual(results["two-groups"]?["ackType"], "ACK^R01^ACK")
        XCTAssertEqual(results["v2.3"]?["ackType"], "ACK^R01")
        XCTAssertEqual(results["malformed"]?["msa"], "AE")
        XCTAssertEqual(results["malformed"]?["errCode"], "102")
        XCTAssertEqual(results["malformed"]?["errLocation"], "OBX^2^5")
        XCTAssertEqual(results["unsupported"]?["msa"], "AR")
        XCTAssertEqual(results["unsupported"]?["errCode"], "200")
        XCTAssertEqual(results["not-hl7"]?["msa"], "AE")

        // Every message was stored once (the duplicate not again) and mapped.
        let drained = try Pipeline.eventually(timeout: 30) { Pipeline.integer(try Pipeline.queueStats(directory), "inbox") == 0 }
        XCTAssertTrue(drained, gateway.log)
        let status = try XCTUnwrap(gateway.request("GET", "/metrics"))
        let metrics = status.text
        XCTAssertTrue(metrics.contains("fhir_edge_mllp_acks_total{code=\"AA\"} 5"), metrics)
        XCTAssertTrue(metrics.contains("fhir_edge_mllp_duplicates_total 1"), metrics)
        XCTAssertEqual(gateway.stop(), 0, gateway.log)
        let stats = try Pipeline.queueStats(directory)
        XCTAssertEqual(Pipeline.integer(stats, "received"), 4, "\(stats)")

        let all = try observations(directory)
        // bedside: 8 vitals; spot check: 2; two groups: 6; v2.3: 1.
        XCTAssertEqual(all.count, 17, "\(all.map { mdc($0) ?? "?" })")
        var byCode: [String: Int] = [:]
        for observation in all { byCode[mdc(observation) ?? "?", default: 0] += 1 }
        XCTAssertEqual(byCode, ["150456": 3, "149530": 2, "147842": 2, "150021": 2, "150022": 2, "150023": 1, "150364": 3, "151562": 2])
        let temperature = all.first { mdc($0) == "150364" && $0["valueQuantity"]?["code"] == "[degF]" }
        XCTAssertEqual(temperature?["valueQuantity"]?["value"]?.doubleValue, 98.6)
        XCTAssertTrue(all.allSatisfy { $0["subject"]?["reference"]?.stringValue?.hasPrefix("Patient/") == true })
    }

    /// SIGKILL twice while the peer streams; the peer resends what was not acknowledged. Every message
    /// that got AA is stored exactly once, and so is every message the peer eventually got AA for.
    func testEveryAcknowledgedMessageSurvivesSIGKILLExactlyOnce() throws {
        let directory = try temporaryDirectory("mllp-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freeLoopbackPort()
        let gateway = daemon(directory, mllpPort: port)
        try gateway.start()
        let acked = directory.appendingPathComponent("acked.txt")
        let count = 240
        let peer = try python(["stream", "--port", "\(port)", "--count", "\(count)", "--acked", acked.path, "--deadline", "150"],
                              log: directory.appendingPathComponent("peer.log"))
        func ackedLines() -> [String] {
            ((try? String(contentsOf: acked, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        var acknowledgedBeforeKill: [Int] = []
        for round in 1...2 {
            let target = round * count / 3
            let reached = Pipeline.eventually(timeout: 60) { ackedLines().count >= target }
            XCTAssertTrue(reached, "the peer did not reach \(target) acknowledged messages: \(gateway.log.suffix(2000))")
            gateway.killNow()
            acknowledgedBeforeKill.append(ackedLines().count)
            try gateway.start()
        }
        XCTAssertEqual(peer.finish(timeout: 150), 0, (try? String(contentsOf: directory.appendingPathComponent("peer.log"), encoding: .utf8)) ?? "")
        let lines = ackedLines()
        XCTAssertEqual(lines.count, count)
        XCTAssertEqual(Set(lines).count, count, "each message acknowledged once by the peer's count")

        let drained = try Pipeline.eventually(timeout: 60) { Pipeline.integer(try Pipeline.queueStats(directory), "inbox") == 0 }
        XCTAssertTrue(drained)
        XCTAssertEqual(gateway.stop(), 0, gateway.log)
        let stats = try Pipeline.queueStats(directory)
        XCTAssertEqual(Pipeline.integer(stats, "received"), Int64(count), "no message stored twice, none lost: \(stats)")

        // One SpO2 Observation per message, at its own second.
        var perTime: [String: Int] = [:]
        for observation in try observations(directory) where mdc(observation) == "150456" {
            perTime[observation["effectivePeriod"]?["start"]?.stringValue ?? "?", default: 0] += 1
        }
        XCTAssertEqual(perTime.count, count)
        XCTAssertTrue(perTime.values.allSatisfy { $0 == 1 })
        print("MLLP SIGKILL: \(count) messages, acknowledged before the kills \(acknowledgedBeforeKill), all stored once")
    }
}
