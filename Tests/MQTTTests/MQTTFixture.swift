import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// Reading what the daemon stored, and waiting for it, in the MQTT process-level tests.
enum MQTTStore {
    /// `fhir-edge queue stats --json` → `key`.
    static func count(_ key: String, in dataDirectory: URL) throws -> Int64? {
        let result = try CommandRunner.run(["queue", "stats", "--data-dir", dataDirectory.path, "--json"], timeout: 60)
        guard result.status == 0, case .object(let object)? = try? JSONValue(parsing: Array(result.stdout)),
              case .int(let value)? = object[key] else { return nil }
        return value
    }

    /// Every stored message's `messageId`, with how often it is in the store (inbox and dead letters).
    static func markers(dataDirectory: URL, storePath: String) async throws -> [String: Int] {
        let key = try StoreKeySource.file(dataDirectory.appendingPathComponent("fhir-edge.key").path).load()
        let reader = try StoreReader.openReadOnly(path: storePath, encryption: StoreEncryption(keyEncryptionKey: key))
        defer { try? reader.close() }
        var found: [String: Int] = [:]
        var after: InboxID?
        while true {
            let page = try await reader.inbox(after: after)
            guard let last = page.last else { break }
            for (item, _) in page { found[marker(item.message.payload), default: 0] += 1 }
            after = last.item.id
        }
        var afterLetter: DeadLetterID?
        while true {
            let page = try await reader.deadLetters(after: afterLetter)
            guard let last = page.last else { break }
            for letter in page {
                guard case .inbox = letter.origin else { continue }
                let payload = try await reader.deadLetter(letter.id).payload ?? []
                found[marker(payload), default: 0] += 1
            }
            afterLetter = last.id
        }
        return found
    }

    static func marker(_ payload: [UInt8]) -> String {
        guard case .object(let object)? = try? JSONValue(parsing: payload), case .string(let id)? = object["messageId"] else { return "?" }
        return id
    }

    /// Polls `condition` every 100 ms for at most `timeout` seconds.
    static func eventually(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    /// How many times the daemon's log says it subscribed (once per accepted connection).
    static func subscriptions(in log: String) -> Int {
        log.components(separatedBy: "MQTT subscribed").count - 1
    }
}
