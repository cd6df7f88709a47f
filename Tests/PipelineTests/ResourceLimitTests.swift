import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Slow and idle clients cannot hold the local API: more half-open connections than the daemon
/// has file descriptors leave `/health` and ingest answering, the slow ones are closed by the idle
/// timeout, and many large bodies at once are refused with 503 instead of held in memory.
final class ResourceLimitTests: XCTestCase {
    /// A connected loopback socket that sent `prefix` and nothing more; -1 when refused.
    private func slowConnection(port: Int, prefix: String) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); return -1 }
        _ = Array(prefix.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    func testSlowConnectionsBeyondTheFileLimitLeaveHealthAndIngestAnswering() throws {
        let directory = try temporaryDirectory("slow-clients")
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            http:
              maxConnections: 100
              idleTimeout: 3s
            profiles:
              directory: \(profiles.path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        // 256 descriptors for the daemon, 400 slow clients: more than it could ever hold open.
        daemon.openFileLimit = 256
        try daemon.start()
        defer { daemon.stop() }

        var slow: [Int32] = []
        defer { slow.forEach { close($0) } }
        for index in 0..<400 {
            // Half send part of a request head, half nothing at all.
            let fd = slowConnection(port: daemon.port, prefix: index.isMultiple(of: 2) ? "GET /health HTTP/1.1\r\nHost: x\r\n" : "")
            if fd >= 0 { slow.append(fd) }
        }
        XCTAssertGreaterThan(slow.count, 300, "the clients connected (some wait in the listen backlog)")

        // Each answer must come while the slow clients are still connected and silent.
        for attempt in 0..<5 {
            let health = daemon.request("GET", "/health", timeoutSeconds: 1)
            XCTAssertEqual(health?.status, 200, "health \(attempt) within 1 s: \(daemon.log.suffix(1500))")
            let ingest = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json,
                                        body: Data(Pipeline.vitals("slow\(attempt)", second: attempt).utf8), timeoutSeconds: 1)
            XCTAssertEqual(ingest?.status, 202, "ingest \(attempt) within 1 s")
        }
        let metrics = daemon.request("GET", "/metrics", timeoutSeconds: 1)?.text ?? ""
        XCTAssertTrue(metrics.contains("fhir_edge_http_connections_closed_total{reason=\"evicted\"}"), metrics)
        XCTAssertFalse(metrics.contains("closed_total{reason=\"evicted\"} 0\n"), "connections were closed to make room: \(metrics)")

        // The idle timeout closes what remains of them: a read sees the end of the stream.
        sleep(4)
        var closed = 0
        for fd in slow {
            var byte: UInt8 = 0
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if recv(fd, &byte, 1, 0) == 0 { closed += 1 }
        }
        XCTAssertGreaterThan(closed, 250, "idle connections closed by the gateway")
        let after = daemon.request("GET", "/metrics", timeoutSeconds: 1)?.text ?? ""
        XCTAssertFalse(after.contains("closed_total{reason=\"idle-timeout\"} 0\n"), after)
        XCTAssertEqual(daemon.stop(), 0)
    }

    func testManyLargeBodiesAtOnceAreRefusedNotHeld() throws {
        let directory = try temporaryDirectory("in-flight")
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = Conformance.packageRoot.appendingPathComponent("device-profiles")
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            demo: true
            http:
              maxBodySize: 1MiB
              maxInFlightBytes: 2MiB
            profiles:
              directory: \(profiles.path)
            """.write(to: config, atomically: true, encoding: .utf8)
        let daemon = DaemonProcess.run(config: config, dataDirectory: directory.appendingPathComponent("data"))
        try daemon.start()
        defer { daemon.stop() }

        // Two clients announce 1 MiB bodies and send them slowly; a third finds the budget spent.
        let length = 1 << 20
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<2 {
            let head = "POST /ingest/demo-vitals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n["
            held.append(slowConnection(port: daemon.port, prefix: head))
        }
        usleep(300_000)
        let refused = daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json,
                                     body: Data(("[" + Pipeline.vitals("big") + "]").utf8) + Data(repeating: 0x20, count: 1000))
        XCTAssertEqual(refused?.status, 503, refused?.text ?? daemon.log)
        XCTAssertEqual(refused?.headers["retry-after"], "1")
        XCTAssertTrue(refused?.text.contains("maxInFlightBytes") ?? false, refused?.text ?? "")
        held.forEach { close($0) }
        held = []
        // Once those requests end, the budget is back.
        let accepted = Pipeline.eventually(timeout: 10) {
            daemon.request("POST", "/ingest/demo-vitals", headers: Pipeline.json, body: Data(Pipeline.vitals("after").utf8))?.status == 202
        }
        XCTAssertTrue(accepted)
        let metrics = daemon.request("GET", "/metrics")?.text ?? ""
        XCTAssertTrue(metrics.contains("reason=\"busy\""), metrics)
    }
}
