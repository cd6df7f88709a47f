import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Bad requests get the right status and a JSON error, and leave the daemon healthy and the
/// store unchanged.
final class BadInputTests: XCTestCase {
    func testBadRequestsAreRefusedWithJSONErrors() throws {
        let directory = try temporaryDirectory("badinput")
        defer { try? FileManager.default.removeItem(at: directory) }
        func tokenHash(_ token: String) throws -> String {
            let result = try Pipeline.fhirEdge(["config", "hash-token", token])
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let config = directory.appendingPathComponent("config.yaml")
        try """
            dataDir: data
            http:
              maxBodySize: 64KiB
            profiles:
              directory: \(Conformance.packageRoot.appendingPathComponent("device-profiles").path)
              access:
                demo-vitals: [hub]
            clients:
              hub:
                tokenSHA256: \(try tokenHash("hub-secret"))
              other:
                tokenSHA256: \(try tokenHash("other-secret"))
            """.write(to: config, atomically: true, encoding: .utf8)
        let data = directory.appendingPathComponent("data")
        let daemon = DaemonProcess.run(config: config, dataDirectory: data)
        try daemon.start()
        defer { daemon.stop() }

        let hub = ["authorization": "Bearer hub-secret"]
        let good = Data(Pipeline.vitals("good").utf8)
        func post(_ headers: [String: String], _ body: Data, path: String = "/ingest/demo-vitals") throws -> (Int, JSONObject, LoopbackHTTP.Reply) {
            let reply = try XCTUnwrap(daemon.request("POST", path, headers: headers, body: body), "no answer: \(daemon.log.suffix(2000))")
            XCTAssertEqual(reply.headers["content-type"], "application/json", "\(reply.status) \(reply.text)")
            guard case .object(let object)? = try? JSONValue(parsing: Array(reply.body)) else {
                XCTFail("not a JSON object: \(reply.text)")
                return (reply.status, JSONObject(), reply)
            }
            return (reply.status, object, reply)
        }
        func errorCode(_ object: JSONObject) -> String? {
            if case .string(let code)? = object["error"] { return code }
            return nil
        }

        // Malformed JSON: 400 saying where.
        let (malformed, problem, _) = try post(hub.merging(Pipeline.json) { $1 }, Data(#"{"deviceId": "d1", "heartRate": }"#.utf8))
        XCTAssertEqual(malformed, 400)
        XCTAssertEqual(errorCode(problem), "invalid-body")
        XCTAssertEqual(Pipeline.integer(problem, "line"), 1)
        XCTAssertNotNil(Pipeline.integer(problem, "column"))
        let (badLine, lineProblem, _) = try post(hub.merging(Pipeline.ndjson) { $1 }, Data((Pipeline.vitals("a") + "\n{oops\n").utf8))
        XCTAssertEqual(badLine, 400)
        XCTAssertEqual(Pipeline.integer(lineProblem, "line"), 2)
        XCTAssertEqual(Pipeline.integer(lineProblem, "element"), 1)
        let (notObjects, _, _) = try post(hub.merging(Pipeline.json) { $1 }, Data("[1, 2]".utf8))
        XCTAssertEqual(notObjects, 400)

        // Wrong content type: 415.
        let (wrongType, typeError, _) = try post(hub.merging(["content-type": "text/plain"]) { $1 }, good)
        XCTAssertEqual(wrongType, 415)
        XCTAssertEqual(errorCode(typeError), "unsupported-media-type")

        // Huge body: 413, whether announced by Content-Length or not.
        let huge = Data(("[" + Array(repeating: Pipeline.vitals("h"), count: 600).joined(separator: ",") + "]").utf8)
        XCTAssertGreaterThan(huge.count, 64 * 1024)
        let (tooLarge, largeError, _) = try post(hub.merging(Pipeline.json) { $1 }, huge)
        XCTAssertEqual(tooLarge, 413)
        XCTAssertEqual(errorCode(largeError), "too-large")

        // Unknown profile: 404.
        let (unknown, unknownError, _) = try post(hub.merging(Pipeline.json) { $1 }, good, path: "/ingest/no-such-profile")
        XCTAssertEqual(unknown, 404)
        XCTAssertEqual(errorCode(unknownError), "unknown-profile")

        // Tokens: none, wrong, and a valid client without access to the profile.
        let (missing, _, missingReply) = try post(Pipeline.json, good)
        XCTAssertEqual(missing, 401)
        XCTAssertEqual(missingReply.headers["www-authenticate"], "Bearer")
        let (wrong, wrongError, _) = try post(Pipeline.json.merging(["authorization": "Bearer not-the-token"]) { $1 }, good)
        XCTAssertEqual(wrong, 401)
        XCTAssertEqual(errorCode(wrongError), "unauthorized")
        let (forbidden, forbiddenError, _) = try post(Pipeline.json.merging(["authorization": "Bearer other-secret"]) { $1 }, good)
        XCTAssertEqual(forbidden, 403)
        XCTAssertEqual(errorCode(forbiddenError), "forbidden")

        // Nothing of that was stored; the daemon is healthy and takes good data.
        XCTAssertEqual(Pipeline.integer(try Pipeline.queueStats(data), "received"), 0)
        XCTAssertEqual(daemon.request("GET", "/health")?.status, 200)
        let (accepted, answer, _) = try post(hub.merging(Pipeline.json) { $1 }, good)
        XCTAssertEqual(accepted, 202)
        XCTAssertEqual(Pipeline.integer(answer, "accepted"), 1)
        XCTAssertTrue(daemon.isRunning)
        XCTAssertEqual(daemon.stop(), 0)

        // Every call was journaled with its status (after the graceful stop flushed the access journal).
        let statuses = try Pipeline.sql(daemon.storePath, """
            SELECT json_extract(details, '$.status') FROM journal WHERE kind = 'api.request' AND json_extract(details, '$.route') LIKE '/ingest/%' ORDER BY seq;
            """)
        for status in ["400", "415", "413", "404", "401", "403", "202"] {
            XCTAssertTrue(statuses.contains(status), "no journaled request with status \(status): \(statuses)")
        }
    }
}
