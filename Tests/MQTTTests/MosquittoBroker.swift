import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import XCTest

/// A real Mosquitto broker (Debian's `mosquitto`) on a free 127.0.0.1 port with persistence on,
/// started and stopped by its PID. `restart` stops it gracefully (it saves its database) and
/// starts it again on the same port with the same database.
final class MosquittoBroker: @unchecked Sendable {
    let directory: URL
    let port: Int
    private var process: ChildProcess?

    static func executable() throws -> URL {
        for path in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] where FileManager.default.isExecutableFile(atPath: path) {
            return URL(fileURLWithPath: path)
        }
        throw XCTSkip("mosquitto is not installed (scripts/setup.sh installs it)")
    }

    /// `listenerOptions` go under the listener line (TLS files, `require_certificate`).
    init(directory: URL, listenerOptions: String = "") throws {
        self.directory = directory
        self.port = try Self.freePort()
        // No limit on what the broker queues for the gateway's session while it is away: the tests
        // count every message (an operator sizes max_queued_messages for their outage budget).
        var config = """
            listener \(port) 127.0.0.1
            \(listenerOptions)
            allow_anonymous true
            persistence true
            persistence_location \(directory.path)/
            autosave_interval 1
            max_queued_messages 0
            max_inflight_messages 20
            log_dest file \(directory.path)/mosquitto.log
            log_type all

            """
        // As root, mosquitto would switch to its own user, which cannot write the test's folder.
        if getuid() == 0 { config += "user root\n" }
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    deinit { process?.stop(grace: 5) }

    var url: String { "mqtt://127.0.0.1:\(port)" }

    func start() throws {
        let process = try ChildProcess(
            name: "mosquitto", executable: try Self.executable(), arguments: ["-c", directory.appendingPathComponent("mosquitto.conf").path],
            directory: directory, log: directory.appendingPathComponent("mosquitto.out"))
        self.process = process
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if Self.accepts(port: port) { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw XCTSkip("mosquitto did not start on port \(port): \(process.logText)")
    }

    /// SIGTERM (the broker saves its database) and wait.
    func stop() {
        process?.stop(grace: 10)
        process = nil
    }

    func restart(down: TimeInterval) throws {
        stop()
        usleep(UInt32(down * 1_000_000))
        try start()
    }

    var log: String { (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? "" }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonProcess.Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw DaemonProcess.Failure(description: "bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// `Tests/peers/mqtt_publisher.py` with paho-mqtt from the test venv.
enum Publisher {
    static func python() throws -> URL {
        var venv = Conformance.packageRoot.appendingPathComponent(".venv")
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_VENV"], !path.isEmpty { venv = URL(fileURLWithPath: path) }
        let python = venv.appendingPathComponent("bin/python")
        let check = Process()
        check.executableURL = python
        check.arguments = ["-c", "import paho.mqtt.client"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { throw XCTSkip("no Python test venv at \(venv.path) (run scripts/setup.sh)") }
        check.waitUntilExit()
        guard check.terminationStatus == 0 else { throw XCTSkip("paho-mqtt is not in \(venv.path) (run scripts/setup.sh)") }
        return python
    }

    /// Starts publishing `count` messages with QoS 1; `finish()` on the result waits for it.
    static func start(port: Int, count: Int, run: String, interval: Double, directory: URL) throws -> ChildProcess {
        let script = Conformance.packageRoot.appendingPathComponent("Tests/peers/mqtt_publisher.py")
        return try ChildProcess(
            name: "publisher", executable: try python(),
            arguments: [script.path, "--port", String(port), "--count", String(count), "--run", run, "--interval", String(interval)],
            directory: directory, log: directory.appendingPathComponent("publisher-\(run).log"))
    }

    /// The marker of message `index` of `run` (its `messageId`).
    static func marker(run: String, _ index: Int) -> String { "mqtt-\(run)-\(index)" }
}
