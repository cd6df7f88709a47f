import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The store on a small file system that fills during ingest: clients get 503 + Retry-After,
/// `/health` says why, nothing acknowledged is lost, the database stays sound, and the gateway
/// takes data again by itself once space returns.
final class DiskFullTests: XCTestCase {
    private var mountPoint: URL?

    override func tearDown() {
        if let mountPoint {
            _ = try? CommandRunner.run(["-l", mountPoint.path], executable: URL(fileURLWithPath: "/bin/umount"))
            try? FileManager.default.removeItem(at: mountPoint)
        }
        super.tearDown()
    }

    /// A fresh tmpfs of `size` (root only); nil after a SKIP line elsewhere, a failure in CI.
    private func smallFileSystem(_ size: String) throws -> URL? {
        let folder = try temporaryDirectory("small-fs")
        let mount = try CommandRunner.run(["-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", folder.path],
                                          executable: URL(fileURLWithPath: "/bin/mount"))
        guard mount.status == 0 else {
            try? FileManager.default.removeItem(at: folder)
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("cannot mount a tmpfs in CI: \(mount.stderr)") }
            print("SKIP: DiskFullTests needs root to mount a small file system (\(mount.stderr))")
            return nil
        }
        mountPoint = folder
        return folder
    }

    private func freeBytes(_ url: URL) -> Int {
        var stats = statvfs()
        guard statvfs(url.path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    func testAFullDiskRefusesWithRetryAfterLosesNothingAndRecoversWithoutARestart() throws {
        guard let disk = try smallFileSystem("16m") else { return }
        let data = disk.appendingPathComponent("data")
        let daemon = DaemonProcess.demo(dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        // Leave a little room, then ingest until the disk is full.
        let filler = disk.appendingPathComponent("filler")
        let room = 1_500_000
        let fill = max(0, freeBytes(disk) - room)
        XCTAssertTrue(FileManager.default.createFile(atPath: filler.path, contents: Data(repeating: 0x55, count: fill)))
        var acknowledged = 0
        var refusal: LoopbackHTTP.Reply?
        var statuses: [Int: Int] = [:]
        for request in 0..<400 {
            let lines = (0..<40).map { Pipeline.vitals("full-\(request)-\($0)", device: "bed-\($0 % 4)", second: (request * 40 + $0) % 3600) }
            let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.ndjson, body: Data(lines.joined(separator: "\n").utf8))
            statuses[reply?.status ?? 0, default: 0] += 1
            if reply?.status == 202 { acknowledged += Pipeline.acceptedIDs(reply!)?.count ?? 0 }
            if reply?.status == 503 {
                refusal = reply
                break
            }
        }
        let full = try XCTUnwrap(refusal, "the disk never filled: \(statuses) \(daemon.log.suffix(1500))")
        XCTAssertNil(statuses[500], "no 500 on a full disk: \(statuses)")
        XCTAssertTrue(full.text.contains("\"error\":\"disk-full\""), full.text)
        XCTAssertEqual(full.headers["retry-after"], "30")
        XCTAssertGreaterThan(acknowledged, 0)
        let health = daemon.request("GET", "/health")
        XCTAssertEqual(health?.status, 200)
        XCTAssertTrue(health?.text.contains("disk-full") ?? false, "health says why: \(health?.text ?? "")")
        XCTAssertTrue(daemon.isRunning, "the gateway keeps running")

        // Space returns: intake and mapping resume by themselves.
        try FileManager.default.removeItem(at: filler)
        var resumed = false
        for attempt in 0..<100 where !resumed {
            let reply = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json,
                                       body: Data(Pipeline.vitals("after-\(attempt)", device: "bed-9").utf8))
            if reply?.status == 202 {
                resumed = true
                acknowledged += 1
            } else {
                usleep(200_000)
            }
        }
        XCTAssertTrue(resumed, "ingest accepts again once space is freed: \(daemon.log.suffix(1500))")
        let mapped = try Pipeline.eventually(timeout: 30) { Pipeline.integer(try Pipeline.queueStats(data), "inbox") == 0 }
        XCTAssertTrue(mapped, "every acknowledged message is mapped without a restart: \(daemon.log.suffix(1500))")
        let stats = try Pipeline.queueStats(data)
        XCTAssertEqual(Pipeline.integer(stats, "received"), Int64(acknowledged), "nothing acknowledged is lost")
        XCTAssertEqual(Pipeline.integer(stats, "deadLetters"), 0)
        XCTAssertEqual(daemon.request("GET", "/health")?.text.contains("\"ok\""), true)
        XCTAssertEqual(daemon.stop(), 0)

        XCTAssertEqual(try Pipeline.sql(daemon.storePath, "PRAGMA integrity_check;"), ["ok"])
        let verify = try Pipeline.fhirEdge(["audit", "verify", "--data-dir", data.path])
        XCTAssertEqual(verify.status, 0, verify.stdoutText)
    }

    func testAReadOnlyDataDirectoryIsAClearErrorNamingThePath() throws {
        guard let disk = try smallFileSystem("4m") else { return }
        let data = disk.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let remount = try CommandRunner.run(["-o", "remount,ro", disk.path], executable: URL(fileURLWithPath: "/bin/mount"))
        XCTAssertEqual(remount.status, 0, remount.stderr)
        let run = try CommandRunner.run(["demo", "--data-dir", data.path, "--listen", "127.0.0.1:0"], timeout: 30)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains(data.path), "names the path: \(run.stderr)")
        XCTAssertTrue(run.stderr.lowercased().contains("read-only") || run.stderr.contains("permission"), run.stderr)
    }
}
