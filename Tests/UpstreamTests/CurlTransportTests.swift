import Foundation
import XCTest
@testable import Upstream

/// CurlTransport against a tiny HTTP/1.1 server on loopback, run by Python for the test.
final class CurlTransportTests: XCTestCase {
    static let serverScript = #"""
import http.server, json, socket, sys, time

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/status/"):
            self.reply(int(self.path.split("/")[2]), b"{}", [("Retry-After", "7"), ("Content-Type", "application/fhir+json")])
        elif self.path == "/slow":
            time.sleep(3)
            self.reply(200)
        elif self.path == "/endless":
            # A reply that never ends: chunk after chunk, as a broken or hostile server might send.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(2000):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
        else:
            echo = {"method": self.command, "path": self.path, "port": self.client_address[1],
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode("utf-8")}
            self.reply(200, json.dumps(echo).encode(), [("Content-Type", "application/json"), ("ETag", 'W/"4"')])
    do_GET = do_POST = do_PUT = do_DELETE = handle_any

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""#

    var process: Process?
    var port = 0

    override func setUpWithError() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = root.appendingPathComponent(".venv/bin/python").path
        let python = FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw XCTSkip("SKIP: no Python for the loopback HTTP server") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.serverScript]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            line.append(chunk)
        }
        port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertGreaterThan(port, 0, "the loopback server did not report its port")
    }

    override func tearDown() {
        process?.terminate()
        process?.waitUntilExit()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func echo(_ response: UpstreamResponse) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func testSendsMethodHeadersAndBodyAndReadsStatusHeadersAndBody() async throws {
        let transport = CurlTransport()
        let body = Array(#"{"resourceType":"Bundle"}"#.utf8)
        let request = UpstreamRequest(method: "PUT", url: url("/Observation/a"),
                                      headers: ["Content-Type": "application/fhir+json", "X-Trace": "t1"], body: body)
        let response = try await transport.send(request)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["etag"], "W/\"4\"")
        let echo = try echo(response)
        XCTAssertEqual(echo["method"] as? String, "PUT")
        XCTAssertEqual(echo["path"] as? String, "/Observation/a")
        XCTAssertEqual(echo["body"] as? String, #"{"resourceType":"Bundle"}"#)
        let headers = try XCTUnwrap(echo["headers"] as? [String: String])
        XCTAssertEqual(headers["x-trace"], "t1")
        XCTAssertEqual(headers["content-type"], "application/fhir+json")
        XCTAssertNil(headers["expect"], "no 100-continue round trip")

        let get = try await transport.send(UpstreamRequest(method: "GET", url: url("/metadata")))
        XCTAssertEqual(try self.echo(get)["method"] as? String, "GET")
        let post = try await transport.send(UpstreamRequest(method: "POST", url: url("/"), body: []))
        XCTAssertEqual(try self.echo(post)["method"] as? String, "POST")
        let delete = try await transport.send(UpstreamRequest(method: "DELETE", url: url("/Observation/a")))
        XCTAssertEqual(try self.echo(delete)["method"] as? String, "DELETE")
    }

    func testErrorStatusesAreResponsesNotErrors() async throws {
        let response = try await CurlTransport().send(UpstreamRequest(method: "POST", url: url("/status/503"), body: Array("{}".utf8)))
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.headers["Retry-After"], "7")
    }

    func testOneConnectionIsKeptAliveAcrossRequests() async throws {
        let transport = CurlTransport()
        var ports = Set<Int>()
        for _ in 0..<4 {
            let response = try await transport.send(UpstreamRequest(method: "GET", url: url("/echo")))
            ports.insert(try XCTUnwrap(try echo(response)["port"] as? Int))
        }
        XCTAssertEqual(ports.count, 1, "every request reused the first connection")
    }

    func testTimeoutsRefusalsResetsAndDNSFailuresAreClassified() async throws {
        let transport = CurlTransport(options: .init(connectTimeout: .seconds(2), totalTimeout: .milliseconds(500)))
        await assertFails(transport, url("/slow"), as: .timeout)
        await assertFails(transport, url("/reset"), as: .connectionReset)
        // A port nothing listens on: bind one, then close it.
        let socket = try Self.unusedPort()
        await assertFails(transport, "http://127.0.0.1:\(socket)/", as: .connectionRefused)
        await assertFails(transport, "http://no-such-host.invalid/", as: .dns)
        await assertFails(transport, "ftp://127.0.0.1/", as: .invalidRequest)
        // Speaking TLS to a plain HTTP server fails the handshake.
        await assertFails(transport, "https://127.0.0.1:\(port)/", as: .tls)
    }

    func testAReplyLargerThanTheLimitIsAbortedNotRead() async throws {
        let transport = CurlTransport(options: .init(maxReplyBytes: 1 << 20))
        await assertFails(transport, url("/endless"), as: .replyTooLarge)
        // Under the limit the same transport still reads replies.
        let small = try await transport.send(UpstreamRequest(method: "GET", url: url("/echo")))
        XCTAssertEqual(small.status, 200)
    }

    func testURLsInLogsAndErrorsCarryNoCredentials() {
        XCTAssertEqual(UpstreamTransportError.loggable("https://gw:s3cret@fhir.example.org/r4/Observation?identifier=x"),
                       "https://***@fhir.example.org/r4/Observation")
        XCTAssertEqual(UpstreamTransportError.loggable("https://fhir.example.org/r4"), "https://fhir.example.org/r4")
        XCTAssertEqual(UpstreamTransportError.loggable("http://a@b@127.0.0.1:8080/x"), "http://***@127.0.0.1:8080/x")
        let error = UpstreamTransportError(.timeout, "slow", url: "https://u:p@h.example/fhir?x=1")
        XCTAssertFalse(error.description.contains("p@"), error.description)
    }

    func testCancellingTheTaskAbortsASlowExchange() async throws {
        let transport = CurlTransport(options: .init(totalTimeout: .seconds(30)))
        let url = url("/slow")
        let started = ContinuousClock.now
        let task = Task { try await transport.send(UpstreamRequest(method: "GET", url: url)) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        do {
            let response = try await task.value
            XCTFail("expected cancellation, got HTTP \(response.status)")
        } catch let error as UpstreamTransportError {
            XCTAssertEqual(error.kind, .cancelled)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(2_500), "aborted well before the server replied")
    }

    func testLoopbackDetection() {
        XCTAssertTrue(CurlTransport.isLoopback("http://127.0.0.1:8080/fhir"))
        XCTAssertTrue(CurlTransport.isLoopback("https://localhost/fhir"))
        XCTAssertTrue(CurlTransport.isLoopback("http://[::1]:80/"))
        XCTAssertFalse(CurlTransport.isLoopback("https://fhir.example.org/"))
        XCTAssertFalse(CurlTransport.isLoopback("https://127.0.0.1.example.org/"))
    }

    func assertFails(_ transport: CurlTransport, _ url: String, as kind: UpstreamTransportError.Kind, line: UInt = #line) async {
        do {
            let response = try await transport.send(UpstreamRequest(method: "GET", url: url))
            XCTFail("expected \(kind), got HTTP \(response.status)", line: line)
        } catch {
            XCTAssertEqual(error.kind, kind, "\(url): \(error.message)", line: line)
            XCTAssertFalse(error.message.isEmpty, line: line)
        }
    }

    static func unusedPort() throws -> Int {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw XCTSkip("could not bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
