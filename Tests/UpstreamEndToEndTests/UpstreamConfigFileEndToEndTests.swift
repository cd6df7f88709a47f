import Audit
import Foundation
import JSONQuery
import Store
import TestSupport
import Upstream
import XCTest

/// `upstream check --config` and `upstream drain --config` read the server, credentials and
/// upload settings from the gateway's configuration file (the `run` loader), flags replace what
/// they name, and a file without an `upstream:` section is a clear usage error.
final class UpstreamConfigFileEndToEndTests: XCTestCase {
    var work: URL!

    override func setUpWithError() throws {
        work = try temporaryDirectory("upstream-config")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    private static let token = "cfg-s3cret"

    /// sekmet with static bearer tokens; nil (after a SKIP line) without the venv.
    private func bearerServer() throws -> FHIRServer? {
        guard let venv = TestVenv.directory() else { return nil }
        let server = try FHIRServer(venv: venv, home: work.appendingPathComponent("sekmet"),
                                    extraSettings: "server_auth: {types: [bearer], tokens: [\(Self.token)]}")
        try server.start()
        return server
    }

    /// A gateway configuration in `work/gateway/`, its token in a file beside it (a relative path).
    @discardableResult
    private func writeConfiguration(upstream: String?) throws -> String {
        let folder = work.appendingPathComponent("gateway")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try writeSecretFile(Self.token + "\n", to: folder.appendingPathComponent("upstream-token"))
        var text = """
            dataDir: data
            profiles:
              directory: \(Conformance.packageRoot.appendingPathComponent("device-profiles").path)

            """
        if let upstream { text += upstream }
        let file = folder.appendingPathComponent("fhir-edge.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    private func upstreamSection(_ server: FHIRServer, bundle: String = "transaction", batchSize: Int = 7) -> String {
        """
        upstream:
          url: \(server.baseURL)
          bundle: \(bundle)
          batchSize: \(batchSize)
          auth:
            mode: bearer
            token: {secretFile: upstream-token}

        """
    }

    /// Readings in the store of the configuration's dataDir (`work/gateway/data`).
    private func enqueue(tag: String, readings: ClosedRange<Int>) async throws {
        let data = work.appendingPathComponent("gateway/data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let path = data.appendingPathComponent("fhir-edge.sqlite").path
        let store = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock,
                              encryption: storeEncryption(besideStore: path))
        defer { try? store.close() }
        let resources = [UploadEndToEndTests.patient(tag), UploadEndToEndTests.device(tag)] + readings.map { UploadEndToEndTests.observation($0, tag: tag) }
        try await store.completeMapping(MappingResult(inboxIDs: [], resources: resources))
    }

    func testCheckReadsTheUpstreamSectionAndFlagsReplaceWhatTheyName() throws {
        guard let server = try bearerServer() else { return }
        defer { server.stop() }
        let file = try writeConfiguration(upstream: upstreamSection(server))

        let fromFile = try CommandRunner.run(["upstream", "check", "--config", file, "--json"])
        XCTAssertEqual(fromFile.status, 0, fromFile.stdoutText + fromFile.stderr)
        let report = try JSONValue(parsing: fromFile.stdout)
        XCTAssertEqual(report["url"], .string(server.baseURL))
        XCTAssertEqual(report["auth"], .string("bearer"), "the file's auth section, with its token file beside it")
        XCTAssertEqual(report["bundleType"], .string("transaction"))
        XCTAssertEqual(report["usable"], .bool(true))
        XCTAssertFalse(fromFile.stdoutText.contains(Self.token), "the secret is never printed")

        let overridden = try CommandRunner.run(["upstream", "check", "--config", file, "--bundle-type", "batch", "--idempotency", "conditional-create", "--json"])
        XCTAssertEqual(overridden.status, 0, overridden.stdoutText + overridden.stderr)
        let replaced = try JSONValue(parsing: overridden.stdout)
        XCTAssertEqual(replaced["bundleType"], .string("batch"))
        XCTAssertEqual(replaced["idempotency"], .string("conditional-create"))
        XCTAssertEqual(replaced["auth"], .string("bearer"), "flags that do not name authentication keep the file's")

        // Authentication flags replace the file's auth section as a whole: without the token the server refuses.
        let anonymous = try CommandRunner.run(["upstream", "check", "--config", file, "--auth", "none"])
        XCTAssertEqual(anonymous.status, 1, anonymous.stdoutText + anonymous.stderr)
        XCTAssertTrue(anonymous.stdoutText.contains("auth none"), anonymous.stdoutText)
        XCTAssertTrue(anonymous.stdoutText.contains("usable: no"), anonymous.stdoutText)
    }

    func testDrainUsesTheFilesStoreServerCredentialsAndBatchSize() async throws {
        guard let server = try bearerServer() else { return }
        defer { server.stop() }
        let file = try writeConfiguration(upstream: upstreamSection(server, batchSize: 7))
        try await enqueue(tag: "cfg", readings: 1...12)

        let run = try CommandRunner.run(["upstream", "drain", "--config", file, "--within", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.stdoutText + run.stderr)
        // 14 resources (a Patient, a Device, 12 Observations) in bundles of the file's 7: two requests.
        XCTAssertTrue(run.stdoutText.contains("accepted 14,"), run.stdoutText)
        XCTAssertTrue(run.stdoutText.contains("requests 2,"), run.stdoutText)
        XCTAssertEqual(try server.count("Observation?identifier=urn:fhir-edge:test:reading|cfg-5", token: Self.token), 1)
        XCTAssertEqual(try server.count("Observation", token: Self.token), 12)

        // --batch-size replaces the file's: 3 readings in one bundle.
        try await enqueue(tag: "cfg2", readings: 1...3)
        let flagged = try CommandRunner.run(["upstream", "drain", "--config", file, "--batch-size", "100", "--within", "60"], timeout: 90)
        XCTAssertEqual(flagged.status, 0, flagged.stdoutText + flagged.stderr)
        XCTAssertTrue(flagged.stdoutText.contains("accepted 5,"), flagged.stdoutText)
        XCTAssertTrue(flagged.stdoutText.contains("requests 1,"), flagged.stdoutText)
        XCTAssertEqual(try server.count("Observation", token: Self.token), 15)
    }

    func testAFileWithoutAnUpstreamSectionIsAClearErrorUnlessFlagsNameTheServer() async throws {
        let file = try writeConfiguration(upstream: nil)
        for command in [["upstream", "check", "--config", file], ["upstream", "drain", "--config", file]] {
            let run = try CommandRunner.run(command)
            XCTAssertEqual(run.status, 2, "\(command): " + run.stdoutText + run.stderr)
            XCTAssertTrue(run.stderr.contains("\(file) has no upstream: section"), run.stderr)
            XCTAssertTrue(run.stderr.contains("--url"), "the error says how to go on: \(run.stderr)")
        }
        let neither = try CommandRunner.run(["upstream", "check"])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.stderr.contains("--url"), neither.stderr)

        // The store from the file, the server from flags, as before the file could name one.
        guard let server = try bearerServer() else { return }
        defer { server.stop() }
        try await enqueue(tag: "flags", readings: 1...4)
        let tokenFile = work.appendingPathComponent("gateway/upstream-token").path
        let run = try CommandRunner.run(
            ["upstream", "drain", "--config", file, "--url", server.baseURL, "--auth", "bearer", "--token-file", tokenFile, "--within", "60"], timeout: 90)
        XCTAssertEqual(run.status, 0, run.stdoutText + run.stderr)
        XCTAssertEqual(try server.count("Observation", token: Self.token), 4)
    }

    func testDrainRefusesPlainHTTPToAHostThatIsNotLoopback() throws {
        let data = work.appendingPathComponent("data").path
        let run = try CommandRunner.run(["upstream", "drain", "--data-dir", data, "--url", "http://fhir.example.org/r4", "--within", "1"])
        XCTAssertEqual(run.status, 2, run.stdoutText + run.stderr)
        XCTAssertTrue(run.stderr.contains("plain http is allowed for loopback servers only"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: data), "nothing was opened")
    }

    func testAnInvalidUpstreamSectionNamesTheKey() throws {
        let file = try writeConfiguration(upstream: """
            upstream:
              url: http://127.0.0.1:9/fhir
              bundle: stream

            """)
        let run = try CommandRunner.run(["upstream", "check", "--config", file])
        XCTAssertEqual(run.status, 2, run.stdoutText + run.stderr)
        XCTAssertTrue(run.stderr.contains("upstream.bundle"), run.stderr)
        XCTAssertTrue(run.stderr.contains(file), "the problem names the file: \(run.stderr)")
    }
}
