import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// One of the Python peers in Tests/peers, on a free loopback port it reports through a file.
final class PeerProcess: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    init(script: String, arguments: [String], venv: URL, directory: URL) throws {
        let portFile = directory.appendingPathComponent("\(script).port")
        try? FileManager.default.removeItem(at: portFile)
        let path = Conformance.packageRoot.appendingPathComponent("Tests/peers/\(script)").path
        child = try ChildProcess(
            name: script, executable: venv.appendingPathComponent("bin/python"),
            arguments: [path] + arguments + ["--port-file", portFile.path, "--max-seconds", "600"], directory: directory,
            log: directory.appendingPathComponent("\(script).log"))
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                self.port = port
                return
            }
            if !child.isRunning { break }
            usleep(20_000)
        }
        let log = child.logText
        child.stop()
        throw HarnessFailure(description: "\(script) did not start:\n\(log.suffix(2000))")
    }

    func stop() { child.stop() }

    /// A JSON request to the peer itself (control endpoints).
    func json(_ method: String, _ path: String, body: Any? = nil) throws -> Any {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        guard let reply = LoopbackHTTP.request(port: port, method: method, path: path, headers: ["Content-Type": "application/json"], body: data),
            (200..<300).contains(reply.status)
        else { throw HarnessFailure(description: "\(method) \(path) on the peer failed") }
        return try JSONSerialization.jsonObject(with: reply.body)
    }
}
