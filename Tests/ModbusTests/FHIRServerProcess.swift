import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// sekmet-fhir on a free loopback port, from the test venv (`$FHIR_EDGE_VENV` or `.venv`), stopped
/// by PID: the minimal part of UpstreamEndToEndTests' harness that the Modbus end-to-end test needs.
final class FHIRServerProcess: @unchecked Sendable {
    let home: URL
    let port: Int
    private var process: Process?

    var baseURL: String { "http://127.0.0.1:\(port)/fhir" }

    /// The venv with sekmet, or nil after a SKIP line.
    static func venv() -> URL? {
        var venv = Conformance.packageRoot.appendingPathComponent(".venv")
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_VENV"], !path.isEmpty { venv = URL(fileURLWithPath: path) }
        guard FileManager.default.isExecutableFile(atPath: venv.appendingPathComponent("bin/sekmet").path) else {
            print("SKIP: no sekmet in the test venv (run scripts/setup.sh); the Modbus end-to-end test needs it")
            return nil
        }
        return venv
    }

    init(venv: URL, home: URL) throws {
        self.home = home
        port = try Self.freePort()
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let settings = """
            base_url: http://127.0.0.1:\(port)/fhir
            host: 127.0.0.1
            port: \(port)
            data_dir: \(home.path)/data
            log_inbound: false
            simulator: {enabled: false}
            validation: {inbound: strict}

            """
        try settings.write(to: home.appendingPathComponent("settings.yaml"), atomically: true, encoding: .utf8)
        let log = home.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = venv.appendingPathComponent("bin/sekmet")
        process.arguments = ["serve", "-c", home.appendingPathComponent("settings.yaml").path]
        process.currentDirectoryURL = home
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning {
            if let reply = LoopbackHTTP.request(port: port, method: "GET", path: "/fhir/metadata", timeoutSeconds: 2), reply.status == 200 { return }
            usleep(100_000)
        }
        stop()
        throw Failure(description: "sekmet did not start: \((try? String(contentsOf: log, encoding: .utf8))?.suffix(1500) ?? "")")
    }

    deinit { stop() }

    func stop() {
        guard let process else { return }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        self.process = nil
    }

    /// A search on the server, as JSON.
    func search(_ query: String) throws -> [String: Any] {
        guard let reply = LoopbackHTTP.request(port: port, method: "GET", path: "/fhir/" + query, headers: ["Accept": "application/fhir+json"], timeoutSeconds: 30),
              reply.status == 200, let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
        else { throw Failure(description: "search \(query) failed") }
        return object
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw Failure(description: "cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
