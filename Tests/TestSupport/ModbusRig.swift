package import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Modbus server child process for tests: the project's own peer (`Tests/peers/modbus_peer.py`,
/// always available) or `../shared/modbus-rig` (the documented register map with ticks and every
/// fault; tests print a SKIP line when it is absent). Both run on loopback TCP or on a socat pty
/// pair, announce themselves with the same `READY key=value ...` line, take faults on a control
/// port, and are stopped by PID (SIGTERM, bounded wait, SIGKILL), also from `deinit`.
package final class ModbusPeer: @unchecked Sendable {
    package enum Kind: String, Sendable {
        /// `Tests/peers/modbus_peer.py`.
        case own
        /// `../shared/modbus-rig/modbus_rig.py`.
        case rig
    }

    package enum Transport: String, Sendable {
        case tcp
        case rtu
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }

    /// The fields of the latest READY line (`proto`, `host`, `port`, `device`, `baud`, `parity`,
    /// `data_bits`, `stop_bits`, `control_port`, `restarts`, ...).
    package private(set) var ready: [String: String] = [:]
    package let kind: Kind
    package let transport: Transport
    package let directory: URL
    private var child: ChildProcess?
    private let readyFile: URL
    private let log: URL

    package var host: String { ready["host"] ?? "127.0.0.1" }
    package var port: Int { Int(ready["port"] ?? "") ?? 0 }
    /// RTU: the pty the client opens.
    package var device: String { ready["device"] ?? "" }
    package var baud: Int { Int(ready["baud"] ?? "") ?? 19200 }
    package var parity: String { ready["parity"] ?? "E" }
    package var controlPort: Int { Int(ready["control_port"] ?? "") ?? 0 }
    package var pid: Int32 { child?.pid ?? 0 }
    package var isRunning: Bool { child?.isRunning ?? false }

    /// `fhir-edge modbus read` connection flags for this peer.
    package var commandLineEndpoint: [String] {
        transport == .tcp ? ["--tcp", "\(host):\(port)"] : ["--rtu", device, "--baud", String(baud), "--parity", parity]
    }

    /// The rig's folder (`$FHIR_EDGE_MODBUS_RIG`, else `../shared/modbus-rig` beside the checkout), or
    /// nil after printing a SKIP line.
    package static func rigDirectory(file: StaticString = #filePath, line: UInt = #line) -> URL? {
        var candidate = Conformance.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/modbus-rig", isDirectory: true)
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_MODBUS_RIG"], !path.isEmpty {
            candidate = URL(fileURLWithPath: path, isDirectory: true)
        }
        guard FileManager.default.fileExists(atPath: candidate.appendingPathComponent("modbus_rig.py").path) else {
            print("SKIP: ../shared/modbus-rig not found (set FHIR_EDGE_MODBUS_RIG or place it beside the checkout)")
            return nil
        }
        return candidate
    }

    /// The venv's python with pymodbus (`$FHIR_EDGE_VENV`, else the checkout's `.venv`, made by
    /// `scripts/setup.sh` when missing), or nil after printing a SKIP line.
    package static func python() -> URL? {
        pythonLock.withLock {
            if let checkedPython { return checkedPython }
            let root = Conformance.packageRoot
            var venv = root.appendingPathComponent(".venv")
            if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_VENV"], !path.isEmpty { venv = URL(fileURLWithPath: path) }
            let python = venv.appendingPathComponent("bin/python")
            let pymodbus = { FileManager.default.fileExists(atPath: venv.appendingPathComponent("bin/python").path) && hasPymodbus(python) }
            if !pymodbus() {
                let setup = Process()
                setup.executableURL = URL(fileURLWithPath: "/bin/bash")
                setup.arguments = [root.appendingPathComponent("scripts/setup.sh").path]
                setup.standardOutput = FileHandle.nullDevice
                setup.standardError = FileHandle.nullDevice
                try? setup.run()
                setup.waitUntilExit()
            }
            let found = pymodbus() ? python : nil
            if found == nil { print("SKIP: the Python test venv with pymodbus could not be created (run scripts/setup.sh)") }
            checkedPython = .some(found)
            return found
        }
    }

    private static let pythonLock = NSLock()
    nonisolated(unsafe) private static var checkedPython: URL??

    private static func hasPymodbus(_ python: URL) -> Bool {
        let check = Process()
        check.executableURL = python
        check.arguments = ["-c", "import pymodbus"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }

    /// Starts the peer and waits (at most `timeout` s) for its READY line. Returns nil (after a
    /// SKIP line) when the rig or the venv is missing. `extraArguments` go to the script as they
    /// are (e.g. the rig's `--fault SPEC`, `--restart-down S`).
    package static func start(
        _ kind: Kind, _ transport: Transport, extraArguments: [String] = [], timeout: TimeInterval = 30
    ) throws -> ModbusPeer? {
        guard let python = python() else { return nil }
        let script: URL
        var arguments: [String]
        let directory = try temporaryDirectory("modbus-\(kind.rawValue)-\(transport.rawValue)")
        let readyFile = directory.appendingPathComponent("ready")
        switch kind {
        case .own:
            script = Conformance.packageRoot.appendingPathComponent("Tests/peers/modbus_peer.py")
            arguments = ["--ready-file", readyFile.path, "--max-seconds", "900"] + (transport == .rtu ? ["--rtu"] : [])
        case .rig:
            guard let rig = rigDirectory() else { return nil }
            script = rig.appendingPathComponent("modbus_rig.py")
            arguments = ["--ready-file", readyFile.path, "--max-runtime", "900", "--control-port", "0"]
            arguments += transport == .rtu ? ["--rtu", "--socat", "--link-dir", directory.appendingPathComponent("pty").path] : ["--port", "0"]
        }
        let peer = ModbusPeer(kind: kind, transport: transport, directory: directory, readyFile: readyFile)
        try peer.launch(python: python, arguments: [script.path] + arguments + extraArguments, timeout: timeout)
        return peer
    }

    private init(kind: Kind, transport: Transport, directory: URL, readyFile: URL) {
        self.kind = kind
        self.transport = transport
        self.directory = directory
        self.readyFile = readyFile
        self.log = directory.appendingPathComponent("peer.log")
    }

    deinit { stop(grace: 0) }

    private func launch(python: URL, arguments: [String], timeout: TimeInterval) throws {
        // The peer must see SIGTERM to run its shutdown (and stop its socat): ChildProcess starts it so.
        child = try ChildProcess(name: "modbus-\(kind.rawValue)", executable: python, arguments: arguments, directory: directory, log: log)
        try waitForReady(restarts: 0, timeout: timeout)
    }

    private func waitForReady(restarts: Int, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOf: readyFile, encoding: .utf8), let fields = Self.fields(of: text),
                Int(fields["restarts"] ?? "0") ?? 0 >= restarts
            {
                ready = fields
                return
            }
            if !isRunning { break }
            usleep(20_000)
        }
        let output = logText
        stop()
        throw Failure("the Modbus \(kind.rawValue) peer (\(transport.rawValue)) did not report READY within \(timeout) s:\n\(output.suffix(3000))")
    }

    /// The `key=value` fields of a `READY ...` line.
    static func fields(of text: String) -> [String: String]? {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("READY ") }) else { return nil }
        var fields: [String: String] = [:]
        for token in line.split(separator: " ").dropFirst() {
            guard let equals = token.firstIndex(of: "=") else { continue }
            fields[String(token[..<equals])] = String(token[token.index(after: equals)...])
        }
        return fields
    }

    /// Everything the peer printed so far (for failure messages).
    package var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends one control command (e.g. `fault delay 0.8 unit=1 count=1`, `fault clear`,
    /// `ttyreset`) and returns the reply after `OK `; an `ERR` reply throws.
    @discardableResult
    package func control(_ command: String, timeout: TimeInterval = 30) throws -> String {
        let reply = try Self.exchange(command, port: controlPort, timeout: timeout)
        guard reply.hasPrefix("OK") else { throw Failure("control command '\(command)' failed: \(reply)") }
        return String(reply.dropFirst(2)).trimmingCharacters(in: .whitespaces)
    }

    /// Adds a fault (`delay 0.8 unit=1 count=1`, `silent unit=2`, `exception 6 count=1`).
    package func fault(_ spec: String) throws { try control("fault " + spec) }

    /// Restarts the server (TCP: listener and connections closed, refused for `down` seconds, then
    /// listening again on the same port; ticks reset) and waits for its new READY line.
    package func restart(down: Double = 1) throws {
        let next = (Int(ready["restarts"] ?? "0") ?? 0) + 1
        try control("restart down=\(down)", timeout: down + 30)
        try waitForReady(restarts: next, timeout: 30)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; waits for the exit.
    package func stop(grace: TimeInterval = 5) {
        child?.stop(grace: grace)
        child = nil
    }

    /// One line out, one line back, on 127.0.0.1:`port`.
    static func exchange(_ command: String, port: Int, timeout: TimeInterval) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket() failed") }
        defer { close(fd) }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure("cannot reach the control port \(port)") }
        let bytes = Array((command + "\n").utf8)
        guard send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw Failure("cannot send '\(command)'") }
        var reply = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(UInt8(ascii: "\n")) {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { throw Failure("no reply to '\(command)' within \(timeout) s") }
            reply += buffer[0..<count]
        }
        return String(decoding: reply.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }
}
