import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// Shared pieces of the process-level tests: demo-vitals messages, a seeded generator, the
/// `sqlite3` command-line tool and the operator commands.
enum Pipeline {
    /// A demo-vitals message whose `messageId` marks it uniquely, so the store can be searched for it.
    static func vitals(_ marker: String, device: String = "monitor-1", second: Int = 0, heartRate: Int = 72) -> String {
        let time = String(format: "2026-11-27T08:%02d:%02dZ", (second / 60) % 60, second % 60)
        return #"{"deviceId":"\#(device)","patientId":"patient-\#(device)","measuredAt":"\#(time)","heartRate":\#(heartRate),"spo2":97,"messageId":"\#(marker)"}"#
    }

    static let json = ["content-type": "application/json"]
    static let ndjson = ["content-type": "application/x-ndjson"]

    /// The inbox ids of a 202 answer (`{"accepted": n, "ids": [...]}`).
    static func acceptedIDs(_ reply: LoopbackHTTP.Reply) -> [Int64]? {
        guard reply.status == 202, case .object(let object)? = try? JSONValue(parsing: Array(reply.body)),
              case .array(let ids)? = object["ids"] else { return nil }
        return ids.compactMap { if case .int(let id) = $0 { id } else { nil } }
    }

    /// Runs `fhir-edge` with arguments.
    static func fhirEdge(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try CommandRunner.run(arguments, timeout: timeout)
    }

    /// `fhir-edge queue stats --json` as an object.
    static func queueStats(_ dataDirectory: URL) throws -> JSONObject {
        let result = try fhirEdge(["queue", "stats", "--data-dir", dataDirectory.path, "--json"])
        guard result.status == 0, case .object(let object)? = try? JSONValue(parsing: Array(result.stdout)) else {
            throw DaemonProcess.Failure(description: "queue stats failed (\(result.status)): \(result.stderr)")
        }
        return object
    }

    static func integer(_ object: JSONObject, _ key: String) -> Int64? {
        if case .int(let value)? = object[key] { return value }
        return nil
    }

    /// The key the daemon created beside its store (`DIR/fhir-edge.key`), to read the store.
    static func encryption(_ dataDirectory: URL) throws -> StoreEncryption {
        StoreEncryption(keyEncryptionKey: try StoreKeySource.file(dataDirectory.appendingPathComponent("fhir-edge.key").path).load())
    }

    /// The `messageId` of a demo-vitals payload.
    static func messageID(_ payload: [UInt8]) -> String? {
        guard case .object(let object)? = try? JSONValue(parsing: payload), case .string(let id)? = object["messageId"] else { return nil }
        return id
    }

    /// The `sqlite3` tool, or a skip when the machine has none.
    static func sqlite3() throws -> URL {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("sqlite3")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw XCTSkip("the sqlite3 command-line tool is not installed")
    }

    /// Runs SQL with the sqlite3 tool; returns its output lines. Fails the test on an error.
    @discardableResult
    static func sql(_ database: String, _ statements: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let result = try CommandRunner.run(["-bail", "-batch", database], executable: sqlite3(), stdin: Data(statements.utf8), timeout: 60)
        XCTAssertEqual(result.status, 0, "sqlite3 failed: \(result.stderr)", file: file, line: line)
        return result.stdoutText.split(separator: "\n").map(String.init)
    }

    /// Polls `condition` every 50 ms for at most `timeout` seconds.
    static func eventually(timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }
}

