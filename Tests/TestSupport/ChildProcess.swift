package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process stopped by its PID: SIGTERM with a bounded wait, then SIGKILL; `deinit`
/// kills one still running so no test leaks a server.
package final class ChildProcess: @unchecked Sendable {
    package let name: String
    private var process: Process?
    package let log: URL

    package init(name: String, executable: URL, arguments: [String], directory: URL, log: URL) throws {
        self.name = name
        self.log = log
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.runWithStopSignalsUnblocked()
        try? handle.close()
        self.process = process
    }

    deinit { stop(grace: 0) }

    package var pid: Int32 { process?.processIdentifier ?? 0 }
    package var isRunning: Bool { process?.isRunning ?? false }

    /// Waits for a short-lived child to finish by itself (killing it after `timeout`); its exit status.
    @discardableResult
    package func finish(timeout: TimeInterval = 60) -> Int32 {
        guard let process else { return -1 }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    package func stop(grace: TimeInterval = 5) {
        guard let process else { return }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(grace)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        self.process = nil
    }

    package var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}
