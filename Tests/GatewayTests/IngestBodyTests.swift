import EdgeCore
import JSONQuery
import Simulator
import XCTest
@testable import Gateway

final class IngestBodyTests: XCTestCase {
    func split(_ text: String, _ format: IngestBody.Format) throws(IngestBody.Problem) -> [IngestBody.Message] {
        try IngestBody.split(Array(text.utf8), format: format)
    }

    func problem(_ text: String, _ format: IngestBody.Format) -> IngestBody.Problem? {
        do {
            _ = try split(text, format)
            return nil
        } catch {
            return error
        }
    }

    func testOneObjectArrayAndLines() throws {
        XCTAssertEqual(try split(#"{"a": 1}"#, .json).map(\.json), [["a": 1]])
        let array = try split(#"[{"a": 1}, {"b": [2, 3]}]"#, .json)
        XCTAssertEqual(array.map(\.json), [["a": 1], ["b": [2, 3]]])
        XCTAssertEqual(String(decoding: array[1].bytes, as: UTF8.self), #"{"b": [2, 3]}"#, "the bytes received, not re-serialised")
        let lines = try split("{\"a\": 1}\r\n\n  {\"b\": 2}  \n", .ndjson)
        XCTAssertEqual(lines.map(\.json), [["a": 1], ["b": 2]])
        XCTAssertEqual(String(decoding: lines[1].bytes, as: UTF8.self), #"{"b": 2}"#)
    }

    func testEveryMessageKeepsTheBytesItWasReceivedAs() throws {
        let body = " [ {\"id\": 12345678901234567891, \"big\": 1e999999, \"s\": \"a,]}\\\"b\"} ,\n{\"x\":[1,{\"y\":2}]}\t] "
        let messages = try split(body, .json)
        XCTAssertEqual(messages.map { String(decoding: $0.bytes, as: UTF8.self) },
                       [#"{"id": 12345678901234567891, "big": 1e999999, "s": "a,]}\"b"}"#, #"{"x":[1,{"y":2}]}"#])
        let one = try split("  {\"n\": 1.50}\n", .json)
        XCTAssertEqual(String(decoding: one[0].bytes, as: UTF8.self), #"{"n": 1.50}"#)
    }

    func testMalformedJSONSaysWhere() {
        let bad = problem("{\n  \"a\": 1,\n  \"b\": }", .json)
        XCTAssertEqual(bad?.line, 3)
        XCTAssertNotNil(bad?.column)
        let element = problem(#"[{"a": 1}, 7]"#, .json)
        XCTAssertEqual(element?.element, 1)
        XCTAssertTrue(element?.message.contains("element 1") ?? false)
        let line = problem("{\"a\": 1}\n{\"b\": tru}\n", .ndjson)
        XCTAssertEqual(line?.line, 2)
        XCTAssertEqual(line?.element, 1)
        XCTAssertEqual(problem("[]", .json)?.message, "the array holds no messages")
        XCTAssertNotNil(problem("\n\n", .ndjson))
        XCTAssertNotNil(problem("\"text\"", .json))
        XCTAssertEqual(problem("[1]", .ndjson)?.line, 1)
    }

    func testCommentsInADeviceMessageAreRefused() {
        // Templates may carry comments (as in MedTech); device messages stay strict JSON.
        let line = problem("{\n  \"a\": 1 // note\n}", .json)
        XCTAssertEqual(line?.line, 2)
        XCTAssertEqual(line?.column, 10)
        XCTAssertTrue(line?.message.contains("comments are not allowed in JSON") ?? false, line?.message ?? "accepted")
        let block = problem("/* heart rate */ {\"a\": 1}", .json)
        XCTAssertEqual(block?.line, 1)
        XCTAssertEqual(block?.column, 1)
        XCTAssertNotNil(problem("{\"a\": 1,}", .json), "a trailing comma is refused in a device message")
        XCTAssertNotNil(problem("{\"a\": 1} // x\n", .ndjson))
    }

    func testContentTypes() {
        XCTAssertNotNil(IngestBody.Format(contentType: "application/json; charset=utf-8"))
        XCTAssertNotNil(IngestBody.Format(contentType: "Application/X-NDJSON"))
        XCTAssertNil(IngestBody.Format(contentType: "application/fhir+json"))
        XCTAssertNil(IngestBody.Format(contentType: "text/plain"))
        XCTAssertNil(IngestBody.Format(contentType: nil))
    }

    func testTokensAreComparedByHash() {
        let authenticator = ClientAuthenticator(clients: [
            .init(id: "a", tokenHash: Hex.bytes(GatewayLauncher.tokenHash("alpha")) ?? []),
            .init(id: "b", tokenHash: Hex.bytes(GatewayLauncher.tokenHash("beta")) ?? []),
        ])
        XCTAssertEqual(authenticator.client(forAuthorization: "Bearer beta"), "b")
        XCTAssertEqual(authenticator.client(forAuthorization: "bearer alpha"), "a")
        XCTAssertNil(authenticator.client(forAuthorization: "Bearer gamma"))
        XCTAssertNil(authenticator.client(forAuthorization: "Basic alpha"))
        XCTAssertNil(authenticator.client(forAuthorization: "Bearer "))
        XCTAssertNil(authenticator.client(forAuthorization: nil))
    }

    func testSimulatorIsDeterministicAndShaped() {
        var first = VitalsSimulator(devices: 2, seed: 42)
        var second = VitalsSimulator(devices: 2, seed: 42)
        let time = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
        for _ in 0..<20 {
            XCTAssertEqual(first.nextMessage(at: time), second.nextMessage(at: time))
        }
        let message = first.nextMessage(at: time)
        XCTAssertEqual(message["deviceId"]?.stringValue?.hasPrefix("demo-monitor-"), true)
        XCTAssertEqual(message["measuredAt"]?.stringValue, time.iso8601)
        XCTAssertNotNil(message["heartRate"]?.doubleValue)
        XCTAssertEqual(Simulation.endpoint("http://127.0.0.1:8088/x")?.port, 8088)
        XCTAssertNil(Simulation.endpoint("https://127.0.0.1:8088"))
    }
}
