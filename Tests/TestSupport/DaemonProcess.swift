package import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `fhir-edge demo` or `fhir-edge run` child process on a free loopback port, for process-level
/// tests. It starts on `127.0.0.1:0`, reads the bound port from the daemon's
/// `listening on HOST:PORT` line, waits for `GET /health`, and is stopped by PID: SIGTERM and a
/// bounded wait, then SIGKILL. `deinit` kills a daemon still running, so no test leaks one.
/// The daemon's standard error goes to `daemon.log` in the data directory.
package final class DaemonProcess: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        package init(description: String) { self.description = description }
    }

    package let arguments: [String]
    package let dataDirectory: URL
    package private(set) var port = 0
    package private(set) var pid: Int32 = 0
    /// When set, the daemon starts with this open-file limit (soft and hard) through prlimit,
    /// which execs it in place, so `pid` is still the daemon's.
    package var openFileLimit: Int?
    /// How `start` knows the daemon is up; the plain-HTTP `/health` probe unless replaced (a
    /// daemon that speaks TLS is probed by the test's own client).
    package var readiness: (@Sendable (_ port: Int) -> Bool)?
    private var process: Process?

    /// `fhir-edge demo --data-dir DIR --listen 127.0.0.1:0`.
    /// A `clients:` section with one `viewer` client, for configurations whose tests read
    /// `/status` and `/metrics`; `viewerHeaders` authenticate as it.
    package static let viewerClientYAML = """
        clients:
          test-viewer: {tokenSHA256: d036bd6d01a1cae081d39a2f8dab751dc042de814fd60df31fcb553170950f29, roles: [viewer]}
        """
    package static let viewerHeaders = ["authorization": "Bearer viewer-token"]

    package static func demo(dataDirectory: URL) -> DaemonProcess {
        DaemonProcess(arguments: ["demo", "--data-dir", dataDirectory.path, "--listen", "127.0.0.1:0"], dataDirectory: dataDirectory)
    }

    /// `fhir-edge run --config FILE --data-dir DIR --listen 127.0.0.1:0`.
    package static func run(config: URL, dataDirectory: URL) -> DaemonProcess {
        DaemonProcess(arguments: ["run", "--config", config.path, "--data-dir", dataDirectory.path, "--listen", "127.0.0.1:0"],
                      dataDirectory: dataDirectory)
    }

    package init(arguments: [String], dataDirectory: URL) {
        self.arguments = arguments
        self.dataDirectory = dataDirectory
    }

    deinit {
        if let process, process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The store the daemon writes (`DIR/fhir-edge.sqlite`).
    package var storePath: String { dataDirectory.appendingPathComponent("fhir-edge.sqlite").path }

    package var isRunning: Bool { process?.isRunning ?? false }

    /// Starts the daemon and returns once `/health` answers 200 (at most `timeout` seconds).
    package func start(timeout: TimeInterval = 30) throws {
        precondition(!isRunning, "the daemon is already running")
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let log = dataDirectory.appendingPathComponent("daemon.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let logHandle = try FileHandle(forWritingTo: log)
        logHandle.seekToEndOfFile()
        let process = Process()
        if let openFileLimit {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--nofile=\(openFileLimit):\(openFileLimit)", CommandRunner.fhirEdge.path] + arguments
        } else {
            process.executableURL = CommandRunner.fhirEdge
            process.arguments = arguments
        }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.runWithStopSignalsUnblocked()
        try? logHandle.close()
        self.process = process
        pid = process.processIdentifier

        // Read stdout on its own thread until it closes, so the daemon never blocks on the pipe.
        let listening = ListeningLine()
        let reader = out.fileHandleForReading
        Thread.detachNewThread {
            var text = ""
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
                if let port = Self.port(in: text) { listening.set(port) }
            }
            listening.set(nil)
        }
        let deadline = Date().addingTimeInterval(timeout)
        guard let port = listening.wait(until: deadline) else {
            killNow()
            throw Failure(description: "the daemon did not report its port within \(timeout) s; see \(log.path)")
        }
        self.port = port
        while Date() < deadline {
            if let readiness {
                if readiness(port) { return }
            } else if let reply = LoopbackHTTP.request(port: port, method: "GET", path: "/health", timeoutSeconds: 2), reply.status == 200 {
                return
            }
            usleep(20_000)
        }
        killNow()
        throw Failure(description: "the daemon's /health did not answer 200 within \(timeout) s; see \(log.path)")
    }

    /// SIGTERM (graceful: intake stops, mapping finishes its batch, the store closes), then
    /// SIGKILL if it has not exited after `grace` seconds. Returns the exit status.
    @discardableResult
    package func stop(grace: TimeInterval = 15) -> Int32 {
        guard let process else { return 0 }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    /// SIGKILL at once, as a power cut would stop it, and wait for the exit.
    package func killNow() {
        guard let process else { return }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
    }

    /// The daemon's log so far (for failure messages).
    package var log: String {
        (try? String(contentsOf: dataDirectory.appendingPathComponent("daemon.log"), encoding: .utf8)) ?? ""
    }

    /// One request to the daemon's API.
    package func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data = Data(),
                        timeoutSeconds: Int = 10) -> LoopbackHTTP.Reply? {
        LoopbackHTTP.request(port: port, method: method, path: path, headers: headers, body: body, timeoutSeconds: timeoutSeconds)
    }

    static func port(in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("listening on ") {
            if let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) { return port }
        }
        return nil
    }
}

/// The port from the daemon's stdout, handed from the reading thread to the starting one.
private final class ListeningLine: @unchecked Sendable {
    private let condition = NSCondition()
    private var port: Int?
    private var done = false

    func set(_ port: Int?) {
        condition.lock()
        defer { condition.unlock() }
        if done { return }
        self.port = port
        done = true
        condition.broadcast()
    }

    func wait(until deadline: Date) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !done {
            if !condition.wait(until: deadline) { return nil }
        }
        return port
    }
}

/// A temporary folder removed when the test ends.
package func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("fhir-edge-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes a secret as an operator should: readable by its owner only (the gateway refuses
/// secret files that other users may read).
package func writeSecretFile(_ text: String, to url: URL) throws {
    try text.write(to: url, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
}
