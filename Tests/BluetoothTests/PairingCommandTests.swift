import EdgeCore
import Foundation
import JSONQuery
import Store
import TestSupport
import XCTest

/// `fhir-edge ble pair` (the built binary) against the rig's cuff with `--require-pairing bp`.
final class PairingCommandTests: XCTestCase {
    static let cuff = "F0:00:00:00:18:10"

    func pair(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run(["ble", "pair"] + arguments, timeout: 60)
    }

    func object(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) -> JSONObject? {
        let text = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let object = try? JSONValue(parsing: text).objectValue else {
            XCTFail("not one JSON object: \(text) / \(result.stderr)", file: file, line: line)
            return nil
        }
        return object
    }

    func testPairBondsThenReencryptsListsAndForgets() throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ble-pair-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let common = ["--transport", rig.transport, "--data-dir", directory.path]

        let first = try pair([Self.cuff, "--json"] + common)
        XCTAssertEqual(first.status, 0, first.stderr)
        let paired = try XCTUnwrap(object(first))
        XCTAssertEqual(paired["outcome"], "paired")
        XCTAssertEqual(paired["bonded"], true)
        XCTAssertEqual(paired["secureConnections"], true)
        XCTAssertEqual(paired["keySize"], 16)
        XCTAssertEqual(paired["address"], .string(Self.cuff))
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 5))

        // The key is on disk, private, and never printed.
        let file = directory.appendingPathComponent("bluetooth/bonds.json").path
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let stored = try JSONValue(parsing: String(contentsOfFile: file, encoding: .utf8))
        let key = try XCTUnwrap(stored["bonds"]?.arrayValue?.first?["longTermKey"]?.stringValue)
        XCTAssertEqual(key.count, 32)

        let second = try pair([Self.cuff, "--json"] + common)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(object(second)?["outcome"], "reencrypted")
        XCTAssertEqual(rig.events.filter { $0.contains("\"paired\"") }.count, 1, "paired twice")

        let text = try pair([Self.cuff] + common)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdoutText.contains("already bonded"), text.stdoutText)

        let listed = try pair(["--list", "--json", "--data-dir", directory.path])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertEqual(object(listed)?["address"], .string(Self.cuff))
        for output in [first.stdoutText, second.stdoutText, text.stdoutText, listed.stdoutText, first.stderr] {
            XCTAssertFalse(output.lowercased().contains(key.lowercased()), "a key was printed")
        }

        let forgotten = try pair([Self.cuff, "--forget", "--json", "--data-dir", directory.path])
        XCTAssertEqual(object(forgotten)?["forgotten"], true)
        let empty = try pair(["--list", "--data-dir", directory.path])
        XCTAssertTrue(empty.stdoutText.contains("no bonds"), empty.stdoutText)
        XCTAssertEqual(rig.hostBugs, [])
    }

    func testBondChangesAreJournaledInAStoreBesideTheBonds() async throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ble-pair-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let storePath = directory.appendingPathComponent("fhir-edge.sqlite").path
        let store = try Store(path: storePath, policy: .standard, chain: PlainChain(), now: { Timestamp(millisecondsSinceEpoch: 0) })
        try store.close()

        let paired = try pair([Self.cuff, "--transport", rig.transport, "--data-dir", directory.path])
        XCTAssertEqual(paired.status, 0, paired.stderr)
        _ = try pair(["--list", "--data-dir", directory.path])
        _ = try pair([Self.cuff, "--forget", "--data-dir", directory.path])

        let reader = try StoreReader.openReadOnly(path: storePath)
        defer { try? reader.close() }
        let entries = try await reader.journal(after: 0).map(\.entry).filter { $0.actor == "cli" }
        XCTAssertEqual(entries.map(\.kind.rawValue), ["bluetooth.bonded", "access.bluetooth.bonds", "bluetooth.bondForgotten"])
        XCTAssertEqual(entries.first?.subjects.map(\.description), ["device/\(Self.cuff)"])
        let key = try String(contentsOfFile: directory.appendingPathComponent("bluetooth/bonds.json").path, encoding: .utf8)
        XCTAssertFalse(key.isEmpty)
    }

    func testPairAgainWhenTheDeviceLostTheBond() throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ble-pair-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // A bond the cuff never made, as if the cuff had been reset since.
        let folder = directory.appendingPathComponent("bluetooth")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let stale = """
            {"format": 1, "bonds": [{"address": "\(Self.cuff)", "addressType": "random", "longTermKey": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
             "ediv": 0, "rand": "0000000000000000", "keySize": 16, "authenticated": false, "secureConnections": true,
             "pairedAt": "2025-01-01T00:00:00.000Z"}]}
            """
        XCTAssertTrue(FileManager.default.createFile(
            atPath: folder.appendingPathComponent("bonds.json").path, contents: Data(stale.utf8), attributes: [.posixPermissions: 0o600]))

        let result = try pair([Self.cuff, "--json", "--transport", rig.transport, "--data-dir", directory.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(object(result)?["outcome"], "paired")
        let stored = try JSONValue(parsing: String(contentsOfFile: folder.appendingPathComponent("bonds.json").path, encoding: .utf8))
        XCTAssertEqual(stored["bonds"]?.arrayValue?.count, 1)
        XCTAssertNotEqual(stored["bonds"]?.arrayValue?.first?["longTermKey"], "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")
    }

    func testFailuresSayWhy() throws {
        guard let rig = try BLERig.start(["--only", "bp"]) else { return }
        defer { rig.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ble-pair-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }

        let absent = try pair(["F0:00:00:00:18:11", "--transport", rig.transport, "--data-dir", directory.path, "--timeout", "1"])
        XCTAssertEqual(absent.status, 1)
        XCTAssertTrue(absent.stderr.contains("F0:00:00:00:18:11"), absent.stderr)

        let noTransport = try pair([Self.cuff, "--data-dir", directory.path])
        XCTAssertNotEqual(noTransport.status, 0)
        XCTAssertTrue(noTransport.stderr.contains("--transport is required"), noTransport.stderr)

        let badAddress = try pair(["F0:00:00", "--transport", rig.transport])
        XCTAssertNotEqual(badAddress.status, 0)
        XCTAssertTrue(badAddress.stderr.contains("is not an address"), badAddress.stderr)
    }
}

/// Any chain will do: these tests read the journal's entries, not its hashes.
struct PlainChain: JournalChain {
    func hash(of entry: JournalEntry, previous: String?) -> String { "\(previous ?? "")+\(entry.sequence)" }
}
