import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Field kits through the command line: kit A takes readings offline (the demo daemon, no
/// upstream), exports them to a directory; gateway B imports the kit and uploads it to sekmet;
/// then A comes online and uploads the same readings itself: the server holds each once. A
/// tampered, partial, wrongly keyed or replayed kit is refused and nothing is imported.
final class FieldKitEndToEndTests: XCTestCase {
    var work: URL!
    var server: FHIRServer?

    override func setUpWithError() throws {
        work = try temporaryDirectory("fieldkit")
    }

    override func tearDownWithError() throws {
        server?.stop()
        try? FileManager.default.removeItem(at: work)
    }

    func fhirEdge(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run(arguments, timeout: 120)
    }

    func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    /// `queue stats --json` of a data directory.
    func stats(_ data: String) throws -> JSONObject {
        let result = try fhirEdge(["queue", "stats", "--data-dir", data, "--json"])
        guard result.status == 0, case .object(let object)? = try? JSONValue(parsing: Array(result.stdout)) else {
            throw HarnessFailure(description: "queue stats \(data) failed (\(result.status)): \(result.stderr)")
        }
        return object
    }

    func integer(_ object: JSONObject, _ key: String) -> Int64 {
        if case .int(let value)? = object[key] { return value }
        return -1
    }

    /// Readings posted to the demo daemon over HTTP with no upstream; returns once all are mapped.
    func ingestOffline(_ data: String, readings: Range<Int>) throws {
        let daemon = DaemonProcess.demo(dataDirectory: URL(fileURLWithPath: data))
        try daemon.start()
        defer { _ = daemon.stop() }
        let lines = readings.map { n in
            #"{"deviceId":"kit-monitor","patientId":"patient-kit","measuredAt":"2026-11-27T08:\#(String(format: "%02d", n / 60)):\#(String(format: "%02d", n % 60))Z","heartRate":\#(60 + n),"spo2":97,"messageId":"kit-\#(n)"}"#
        }
        let reply = daemon.request("POST", "/ingest/demo-vitals", headers: ["content-type": "application/x-ndjson"],
                                   body: Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(reply?.status, 202, reply?.text ?? daemon.log)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, integer(try stats(data), "inbox") != 0 { usleep(100_000) }
        XCTAssertEqual(integer(try stats(data), "inbox"), 0, "mapped: \(daemon.log.suffix(2000))")
        XCTAssertEqual(daemon.stop(), 0)
    }

    /// The manifest's per-type counts.
    func counts(_ kit: String) throws -> [String: Int64] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: kit + "/manifest.json"))
        var counts: [String: Int64] = [:]
        for output in try JSONValue(parsing: Array(data))["output"]?.arrayValue ?? [] {
            if let type = output["type"]?.stringValue, case .int(let count)? = output["count"] { counts[type] = count }
        }
        return counts
    }

    func journalKinds(_ data: String) async throws -> [String] {
        let store = data + "/fhir-edge.sqlite"
        let reader = try StoreReader.openReadOnly(path: store, encryption: storeEncryption(besideStore: store))
        defer { try? reader.close() }
        var kinds: [String] = []
        var after: Int64 = 0
        while true {
            let page = try await reader.journal(after: after)
            guard let last = page.last else { return kinds }
            kinds += page.map(\.entry.kind.rawValue)
            after = last.entry.sequence
        }
    }

    func testAKitCarriedHomeAndTheKitItselfDeliverEachReadingOnce() async throws {
        guard let venv = TestVenv.directory() else { return }
        let fhir = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"))
        server = fhir
        try fhir.start()
        let (kitA, home) = (path("kit-a"), path("home"))
        try ingestOffline(kitA, readings: 0..<12)
        let keygen = try fhirEdge(["keygen", "--out", path("recipient")])
        XCTAssertEqual(keygen.status, 0, keygen.stderr)

        let first = try fhirEdge(["export", "--data-dir", kitA, "--to", path("stick/kit-1"), "--recipient", path("recipient.pub"), "--gateway-id", "kit-a"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let firstCounts = try counts(path("stick/kit-1"))
        let observations = try XCTUnwrap(firstCounts["Observation"])
        XCTAssertGreaterThanOrEqual(observations, 12, "at least one Observation per reading: \(firstCounts)")
        let manifest = try String(contentsOfFile: path("stick/kit-1/manifest.json"), encoding: .utf8)
        XCTAssertFalse(manifest.contains("patient-kit"), "no patient data in the clear manifest")
        XCTAssertTrue(manifest.contains("\"trust\""), "the manifest says how far its times can be trusted")
        for file in try FileManager.default.contentsOfDirectory(atPath: path("stick/kit-1")) where file.hasSuffix(".sealed") {
            let sealed = try XCTUnwrap(FileManager.default.contents(atPath: path("stick/kit-1/" + file)))
            XCTAssertNil(String(decoding: sealed, as: UTF8.self).range(of: "patient-kit"), "\(file) is encrypted")
        }

        let imported = try fhirEdge(["import", path("stick/kit-1"), "--identity", path("recipient"), "--data-dir", home, "--gateway-id", "home"])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertTrue(imported.stdoutText.contains("acknowledgement"), imported.stdoutText)
        let upload = try fhirEdge(["upstream", "drain", "--data-dir", home, "--url", fhir.baseURL, "--within", "90"])
        XCTAssertEqual(upload.status, 0, upload.stdoutText + upload.stderr)
        XCTAssertEqual(try fhir.count("Observation"), Int(observations))

        // More readings; the second kit carries only them, in clear.
        try ingestOffline(kitA, readings: 12..<17)
        let second = try fhirEdge(["export", "--data-dir", kitA, "--to", path("stick/kit-2"), "--plain", "--gateway-id", "kit-a"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let newObservations = try XCTUnwrap(try counts(path("stick/kit-2"))["Observation"])
        XCTAssertGreaterThanOrEqual(newObservations, 5)
        XCTAssertLessThan(newObservations, observations, "only what kit 1 did not carry")
        XCTAssertEqual(try fhirEdge(["import", path("stick/kit-2"), "--data-dir", home]).status, 0)
        let pending = integer(try stats(home), "outboxPending")
        let replay = try fhirEdge(["import", path("stick/kit-1"), "--identity", path("recipient"), "--data-dir", home])
        XCTAssertEqual(replay.status, 1, "a replayed older export is refused")
        XCTAssertTrue(replay.stderr.contains("older than export 2"), replay.stderr)
        XCTAssertEqual(integer(try stats(home), "outboxPending"), pending, "nothing imported")
        XCTAssertEqual(try fhirEdge(["upstream", "drain", "--data-dir", home, "--url", fhir.baseURL, "--within", "90"]).status, 0)
        let total = Int(observations + newObservations)
        XCTAssertEqual(try fhir.count("Observation"), total)

        // The kit learns what home took: kit 1's readings are marked sent, kit 2's stay due (and so
        // do the Patient and Device, whose rows the later mapping renewed and kit 2 carried again).
        XCTAssertEqual(try fhirEdge(["export-key", "--data-dir", home, "--out", path("home.key")]).status, 0)
        let before = integer(try stats(kitA), "outboxPending")
        let reconcile = try fhirEdge(["reconcile", path("stick/kit-1/acknowledgement-1.json"), "--trust", path("home.key"), "--data-dir", kitA])
        XCTAssertEqual(reconcile.status, 0, reconcile.stderr)
        let after = integer(try stats(kitA), "outboxPending")
        XCTAssertGreaterThanOrEqual(before - after, observations, reconcile.stdoutText)
        XCTAssertGreaterThanOrEqual(after, newObservations, "what only kit 2 carried is not acknowledged yet: \(reconcile.stdoutText)")
        let forged = try fhirEdge(["reconcile", path("stick/kit-1/acknowledgement-1.json"), "--trust", path("recipient.pub"), "--data-dir", kitA])
        XCTAssertNotEqual(forged.status, 0, "the acknowledgement is only taken from the pinned importer")

        // Kit A comes online and uploads what it still holds: nothing is duplicated.
        let online = try fhirEdge(["upstream", "drain", "--data-dir", kitA, "--url", fhir.baseURL, "--within", "90"])
        XCTAssertEqual(online.status, 0, online.stdoutText + online.stderr)
        XCTAssertEqual(try fhir.count("Observation"), total, "each reading once")
        XCTAssertEqual(try fhir.count("Patient"), 1)
        XCTAssertEqual(try fhir.count("Device"), 1)

        for data in [kitA, home] {
            let verify = try fhirEdge(["audit", "verify", "--data-dir", data])
            XCTAssertEqual(verify.status, 0, "\(data): \(verify.stdoutText)")
        }
        let kitKinds = try await journalKinds(kitA)
        XCTAssertEqual(kitKinds.filter { $0 == "kit.exported" }.count, 2)
        XCTAssertEqual(kitKinds.filter { $0 == "kit.reconciled" }.count, 1)
        XCTAssertTrue(kitKinds.contains("clock.sync"), "the daemon journals the clock's state")
        let homeKinds = try await journalKinds(home)
        XCTAssertEqual(homeKinds.filter { $0 == "kit.imported" }.count, 2, "the refused replay is not an import")
    }

    func testATamperedPartialWronglyKeyedOrReplayedKitIsRefusedAndNothingIsImported() throws {
        let kitA = path("kit-a")
        try ingestOffline(kitA, readings: 0..<4)
        XCTAssertEqual(try fhirEdge(["keygen", "--out", path("recipient")]).status, 0)
        XCTAssertEqual(try fhirEdge(["keygen", "--out", path("stranger")]).status, 0)
        let export = try fhirEdge(["export", "--data-dir", kitA, "--to", path("kit"), "--recipient", path("recipient.pub")])
        XCTAssertEqual(export.status, 0, export.stderr)
        let sealed = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: path("kit")).first { $0.hasPrefix("Observation") })

        func copy(_ name: String, _ change: (String) throws -> Void) throws -> String {
            let target = path(name)
            try FileManager.default.copyItem(atPath: path("kit"), toPath: target)
            try change(target)
            return target
        }
        func flip(_ file: String) throws {
            var data = try XCTUnwrap(FileManager.default.contents(atPath: file))
            data[data.count / 2] ^= 0x01
            try data.write(to: URL(fileURLWithPath: file))
        }
        let cases: [(name: String, kit: String, identity: String, expected: [String])] = [
            ("flipped byte", try copy("flipped", { try flip($0 + "/" + sealed) }), "recipient", [sealed, "SHA-256"]),
            ("flipped manifest byte", try copy("edited", { try flip($0 + "/manifest.json") }), "recipient", ["manifest"]),
            ("missing file", try copy("missing", { try FileManager.default.removeItem(atPath: $0 + "/" + sealed) }), "recipient", [sealed, "missing"]),
            ("partial: no signature", try copy("unsigned", { try FileManager.default.removeItem(atPath: $0 + "/manifest.sig") }), "recipient",
             ["manifest.sig", "missing"]),
            ("wrong key", path("kit"), "stranger", ["wrong key"]),
        ]
        for refused in cases {
            let result = try fhirEdge(["import", refused.kit, "--identity", path(refused.identity), "--data-dir", path("home")])
            XCTAssertEqual(result.status, 1, "\(refused.name): \(result.stderr)")
            for word in refused.expected { XCTAssertTrue(result.stderr.contains(word), "\(refused.name): \(result.stderr)") }
            XCTAssertTrue(result.stderr.contains("nothing imported"), "\(refused.name): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("patient-kit"), "no patient data in errors")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("home/fhir-edge.sqlite")), "\(refused.name): nothing was taken")
        }
        let noIdentity = try fhirEdge(["import", path("kit"), "--identity", path("no-such-key"), "--data-dir", path("home")])
        XCTAssertEqual(noIdentity.status, 2, "an unreadable key file is a usage problem: \(noIdentity.stderr)")
        XCTAssertTrue(noIdentity.stderr.contains("no-such-key"), noIdentity.stderr)
        // A kit signed by another gateway's key than the one pinned with --trust.
        let other = path("other-kit")
        try ingestOffline(other, readings: 0..<1)
        XCTAssertEqual(try fhirEdge(["export-key", "--data-dir", other, "--out", path("other.key")]).status, 0)
        let untrusted = try fhirEdge(["import", path("kit"), "--identity", path("recipient"), "--trust", path("other.key"), "--data-dir", path("home")])
        XCTAssertEqual(untrusted.status, 1, untrusted.stderr)
        XCTAssertTrue(untrusted.stderr.contains("not the trusted key"), untrusted.stderr)

        let good = try fhirEdge(["import", path("kit"), "--identity", path("recipient"), "--data-dir", path("home")])
        XCTAssertEqual(good.status, 0, good.stderr)
        let pending = integer(try stats(path("home")), "outboxPending")
        XCTAssertGreaterThan(pending, 0)
        let again = try fhirEdge(["import", path("kit"), "--identity", path("recipient"), "--data-dir", path("home")])
        XCTAssertEqual(again.status, 1, "a replay is refused")
        XCTAssertTrue(again.stderr.contains("already imported"), again.stderr)
        XCTAssertEqual(integer(try stats(path("home")), "outboxPending"), pending, "nothing imported twice")
    }
}
