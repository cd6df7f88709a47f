package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The Python venv with sekmet-fhir and the test peers' packages (`$FHIR_EDGE_VENV`, else the
/// checkout's `.venv`, made by `scripts/setup.sh` when missing).
package enum TestVenv {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var checked: URL??

    /// The venv folder, or nil after printing a SKIP line when it cannot be created.
    package static func directory() -> URL? {
        lock.withLock {
            if let checked { return checked }
            let found = locate()
            checked = .some(found)
            if found == nil {
                print("SKIP: the Python test venv with sekmet-fhir could not be created (run scripts/setup.sh); upstream end-to-end tests need it")
            }
            return found
        }
    }

    private static func locate() -> URL? {
        let root = Conformance.packageRoot
        var venv = root.appendingPathComponent(".venv")
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_VENV"], !path.isEmpty { venv = URL(fileURLWithPath: path) }
        let sekmet = venv.appendingPathComponent("bin/sekmet").path
        if FileManager.default.isExecutableFile(atPath: sekmet) { return venv }
        let setup = Process()
        setup.executableURL = URL(fileURLWithPath: "/bin/bash")
        setup.arguments = [root.appendingPathComponent("scripts/setup.sh").path]
        setup.standardOutput = FileHandle.nullDevice
        try? setup.run()
        setup.waitUntilExit()
        return FileManager.default.isExecutableFile(atPath: sekmet) ? venv : nil
    }
}

package struct HarnessFailure: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// A free loopback TCP port (bound and released; the child binds it right after).
package func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessFailure(description: "socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw HarnessFailure(description: "cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// sekmet-fhir on a loopback port with its own data folder; restartable on the same port and
/// data (for outage tests). `extraSettings` are settings.yaml lines (e.g. `server_auth: ...`).
package final class FHIRServer: @unchecked Sendable {
    package let venv: URL
    package let home: URL
    package let port: Int
    /// The self-signed certificate (PEM) when the server speaks https.
    package let certificate: URL?
    private var child: ChildProcess?

    package var scheme: String { certificate == nil ? "http" : "https" }
    package var baseURL: String { "\(scheme)://127.0.0.1:\(port)/fhir" }
    package var rootURL: String { "\(scheme)://127.0.0.1:\(port)" }

    package init(venv: URL, home: URL, extraSettings: String = "", https: Bool = false) throws {
        self.venv = venv
        self.home = home
        self.port = try freeLoopbackPort()
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        var tlsSettings = ""
        if https {
            let prefix = home.appendingPathComponent("tls").path
            let keys = try ChildProcess(
                name: "tls-cert", executable: venv.appendingPathComponent("bin/sekmet"), arguments: ["keys", "tls-cert", "--out", prefix],
                directory: home, log: home.appendingPathComponent("tls-cert.log"))
            guard keys.finish() == 0 else { throw HarnessFailure(description: "sekmet keys tls-cert failed: \(keys.logText)") }
            certificate = URL(fileURLWithPath: prefix + ".crt")
            tlsSettings = "tls_certfile: \(prefix).crt\ntls_keyfile: \(prefix).key"
        } else {
            certificate = nil
        }
        let settings = """
            base_url: \(https ? "https" : "http")://127.0.0.1:\(port)/fhir
            host: 127.0.0.1
            port: \(port)
            data_dir: \(home.path)/data
            log_inbound: false
            simulator: {enabled: false}
            validation: {inbound: strict}
            \(tlsSettings)
            \(extraSettings)

            """
        try settings.write(to: home.appendingPathComponent("settings.yaml"), atomically: true, encoding: .utf8)
    }

    deinit { stop() }

    /// Starts and waits (at most 60 s) until `/metadata` answers.
    package func start() throws {
        child = try ChildProcess(
            name: "sekmet", executable: venv.appendingPathComponent("bin/sekmet"),
            arguments: ["serve", "-c", home.appendingPathComponent("settings.yaml").path], directory: home,
            log: home.appendingPathComponent("server.log"))
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if certificate != nil {
                if curlSucceeds(["-sf", "-o", "/dev/null", "--cacert", certificate?.path ?? "", baseURL + "/metadata"]) { return }
            } else if let reply = LoopbackHTTP.request(port: port, method: "GET", path: "/fhir/metadata", timeoutSeconds: 2), reply.status == 200 {
                return
            }
            if child?.isRunning != true { break }
            usleep(100_000)
        }
        let log = child?.logText ?? ""
        stop()
        throw HarnessFailure(description: "sekmet did not become ready on port \(port):\n\(log.suffix(2000))")
    }

    package func stop() {
        child?.stop()
        child = nil
    }

    private func curlSucceeds(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    package var pid: Int32 { child?.pid ?? 0 }

    /// A GET on the server directly (not through any proxy), with an optional bearer token.
    package func get(_ path: String, token: String? = nil) -> LoopbackHTTP.Reply? {
        var headers = ["Accept": "application/fhir+json"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return LoopbackHTTP.request(port: port, method: "GET", path: "/fhir/" + path, headers: headers, timeoutSeconds: 30)
    }

    /// `total` of a `_summary=count` search.
    package func count(_ query: String, token: String? = nil) throws -> Int {
        let separator = query.contains("?") ? "&" : "?"
        guard let reply = get(query + separator + "_summary=count", token: token), reply.status == 200,
            let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any], let total = object["total"] as? Int
        else { throw HarnessFailure(description: "count \(query) failed") }
        return total
    }
    /// A search on the server, as the JSON Bundle.
    package func search(_ query: String, token: String? = nil) throws -> [String: Any] {
        guard let reply = get(query, token: token), reply.status == 200,
            let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
        else { throw HarnessFailure(description: "search \(query) failed") }
        return object
    }

    /// The resources of a search's first page.
    package func resources(_ query: String, token: String? = nil) throws -> [[String: Any]] {
        let bundle = try search(query, token: token)
        return (bundle["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
    }

    /// `count(query)`, polled until it reaches `atLeast` or `timeout` seconds pass; the last total.
    package func waitForCount(_ query: String, atLeast: Int, timeout: TimeInterval, token: String? = nil) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var total = 0
        while Date() < deadline {
            if let found = try? count(query, token: token) {
                total = found
                if total >= atLeast { return total }
            }
            usleep(300_000)
        }
        return total
    }
}
