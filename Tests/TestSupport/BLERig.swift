package import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The Bluetooth LE test rig (`../shared/ble-rig/ble_rig.py`: a Bumble virtual controller and six
/// emulated devices behind TCP H4) as a child process on a free loopback port. It is started
/// with the venv's Python (`$FHIR_EDGE_VENV` or `<repo>/.venv`) and `--max-runtime` as a safety
/// net, and stopped by PID with SIGTERM (SIGKILL if it lingers); `deinit` stops a rig still
/// running. Its stdout `EVENT` lines and its stderr (where `HOST BUG:` lines go) are collected.
package final class BLERig: @unchecked Sendable {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package let port: Int
    /// `tcp:127.0.0.1:PORT`, for `--transport`.
    package var transport: String { "tcp:127.0.0.1:\(port)" }
    /// The READY line's JSON text.
    package let readyJSON: String
    private let process: Process
    private let output: Lines
    private let errors: Lines

    /// The rig's folder: `$FHIR_EDGE_BLE_RIG`, else `../shared/ble-rig` beside the checkout.
    package static var directory: URL? {
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_BLE_RIG"], !path.isEmpty { return URL(fileURLWithPath: path, isDirectory: true) }
        let candidate = Conformance.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/ble-rig", isDirectory: true)
        return FileManager.default.fileExists(atPath: candidate.appendingPathComponent("ble_rig.py").path) ? candidate : nil
    }

    /// The venv's Python: `$FHIR_EDGE_VENV/bin/python`, else `<repo>/.venv/bin/python`.
    package static var python: URL {
        if let venv = ProcessInfo.processInfo.environment["FHIR_EDGE_VENV"], !venv.isEmpty {
            return URL(fileURLWithPath: venv).appendingPathComponent("bin/python")
        }
        return Conformance.packageRoot.appendingPathComponent(".venv/bin/python")
    }

    /// Starts the rig with extra `arguments` (`--only hr,bp`, `--notify-interval-ms 50`,
    /// `--legacy-controller`...) and waits for READY; nil after printing a SKIP line when the rig
    /// is absent.
    package static func start(_ arguments: [String] = [], maxRuntime: Int = 240, timeout: TimeInterval = 30) throws -> BLERig? {
        guard let directory else {
            print("SKIP: ../shared/ble-rig not found (set FHIR_EDGE_BLE_RIG or place ../shared/ble-rig beside the checkout)")
            return nil
        }
        return try BLERig(directory: directory, arguments: arguments, maxRuntime: maxRuntime, timeout: timeout)
    }

    private init(directory: URL, arguments: [String], maxRuntime: Int, timeout: TimeInterval) throws {
        let process = Process()
        process.executableURL = Self.python
        process.arguments = [directory.appendingPathComponent("ble_rig.py").path, "--port", "0", "--max-runtime", String(maxRuntime)] + arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let output = Lines()
        let errors = Lines()
        try process.runWithStopSignalsUnblocked()
        output.drain(out.fileHandleForReading)
        errors.drain(err.fileHandleForReading)
        self.process = process
        self.output = output
        self.errors = errors
        guard let ready = output.wait(for: { $0.hasPrefix("READY ") }, timeout: timeout) else {
            Self.terminate(process)
            throw Failure(description: "the BLE rig did not print READY within \(timeout) s; stderr: \(errors.text.suffix(2000))")
        }
        readyJSON = String(ready.dropFirst("READY ".count))
        guard let object = try? JSONSerialization.jsonObject(with: Data(readyJSON.utf8)) as? [String: Any],
              let port = object["port"] as? Int else {
            Self.terminate(process)
            throw Failure(description: "the BLE rig's READY line has no port: \(ready)")
        }
        self.port = port
    }

    deinit { Self.terminate(process) }

    /// The JSON of every `EVENT` line so far.
    package var events: [String] {
        output.all.filter { $0.hasPrefix("EVENT ") }.map { String($0.dropFirst("EVENT ".count)) }
    }

    /// Waits for an `EVENT` line containing every one of `fragments`.
    package func waitForEvent(containing fragments: [String], timeout: TimeInterval = 10) -> String? {
        output.wait(for: { line in line.hasPrefix("EVENT ") && fragments.allSatisfy { line.contains($0) } }, timeout: timeout)
    }

    /// Standard error so far.
    package var stderr: String { errors.text }

    /// The `HOST BUG:` lines: mistakes a real controller would punish.
    package var hostBugs: [String] { errors.all.filter { $0.contains("HOST BUG") } }

    /// SIGTERM, a bounded wait, then SIGKILL. Returns the exit status.
    @discardableResult
    package func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        // One SIGTERM: the rig's asyncio handler is removed while it shuts down, so a second
        // signal arriving then (on a loaded machine) killed it with status 15.
        Self.terminate(process)
        return process.terminationStatus
    }

    private static func terminate(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Lines of a child's stream, collected on their own thread.
private final class Lines: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [String] = []
    private var partial = ""

    func drain(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                condition.lock()
                partial += String(decoding: data, as: UTF8.self)
                while let newline = partial.firstIndex(of: "\n") {
                    lines.append(String(partial[..<newline]))
                    partial = String(partial[partial.index(after: newline)...])
                }
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    var all: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    var text: String { all.joined(separator: "\n") }

    func wait(for match: (String) -> Bool, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = lines.first(where: match) { return line }
            if !condition.wait(until: deadline) { return lines.first(where: match) }
        }
    }
}
