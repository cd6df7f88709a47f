package import Foundation

/// Runs the built `fhir-edge` binary (or any program) as a child process, for tests of the
/// command-line contract: arguments, standard streams and exit status.
package struct CommandResult: Sendable {
    package var status: Int32
    package var stdout: Data
    package var stderr: String

    package var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
}

package enum CommandRunner {
    /// The `fhir-edge` executable built beside the test bundle (`.build/<config>/fhir-edge`).
    package static var fhirEdge: URL {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for directory in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent("fhir-edge")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return Conformance.packageRoot.appendingPathComponent(".build/debug/fhir-edge")
    }

    /// Runs `executable` with `arguments`, feeding `stdin`, and waits at most `timeout` seconds
    /// (then the child is killed and the status is SIGKILL's).
    package static func run(
        _ arguments: [String], executable: URL = fhirEdge, stdin: Data? = nil,
        environment: [String: String]? = nil, timeout: TimeInterval = 60
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        let collected = Collected()
        let group = DispatchGroup()
        for (pipe, isOut) in [(outPipe, true), (errPipe, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                collected.store(data, isOut: isOut)
                group.leave()
            }
        }
        if let stdin { inPipe.fileHandleForWriting.write(stdin) }
        try? inPipe.fileHandleForWriting.close()
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            group.wait()
        }
        process.waitUntilExit()
        let (out, err) = collected.values
        return CommandResult(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
    }
}

private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    func store(_ data: Data, isOut: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isOut { out = data } else { err = data }
    }

    var values: (Data, Data) {
        lock.lock()
        defer { lock.unlock() }
        return (out, err)
    }
}
