import BluetoothDecoding
import Foundation
import TestSupport
import XCTest

@testable import Bluetooth

/// Pairing and bonding against the rig's blood-pressure cuff with `--require-pairing bp`: it
/// refuses the CCCD write until the link is encrypted, accepts LE Secure Connections Just Works
/// with bonding, refuses legacy pairing, and re-encrypts a bonded reconnection with its stored LTK.
final class PairingRigTests: XCTestCase {
    static let cuff = BluetoothAddress("F0:00:00:00:18:10", type: .random)!
    /// 120/80 mmHg, MAP 93, pulse 72, 2024-01-15 08:30:00 (the rig's README).
    static let reading: [UInt8] = [0x06, 0x78, 0x00, 0x50, 0x00, 0x5d, 0x00, 0xe8, 0x07, 0x01, 0x0f, 0x08, 0x1e, 0x00, 0x48, 0x00]

    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pairing-rig-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func host(_ rig: BLERig) async throws -> BluetoothHost {
        var configuration = HostConfiguration()
        configuration.handlesSecurity = true
        return try await BluetoothHost.open(try TransportAddress(parsing: rig.transport), configuration: configuration)
    }

    private func measurement(_ connection: GATTConnection) async throws -> GATTCharacteristic {
        let services = try await connection.discoverAll()
        return try XCTUnwrap(services.characteristic(BluetoothUUID(uuid16: 0x2A35)))
    }

    /// Subscribes and waits for the cuff's indication.
    private func receiveReading(_ connection: GATTConnection, _ characteristic: GATTCharacteristic) async throws -> [UInt8]? {
        try await connection.subscribe(characteristic)
        for await event in connection.events {
            if case .indication(let handle, let bytes) = event, handle == characteristic.valueHandle {
                await connection.confirmIndication()
                return bytes
            }
            if case .disconnected = event { return nil }
        }
        return nil
    }

    func testPairingBondsThenAReconnectionIsEncryptedWithTheStoredKey() async throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let bonds = BondStore(dataDirectory: directory)
        let host = try await host(rig)

        // First link: refused until encrypted, then pairing with bonding.
        let first = try await host.connect(to: Self.cuff)
        let security = LinkSecurity(channel: first, bonds: bonds)
        let events = Task { await security.run() }
        let characteristic = try await measurement(first)
        do {
            try await first.subscribe(characteristic)
            XCTFail("the cuff accepted a subscription on an unencrypted link")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .att(code: 0x0F), "\(error)")
            XCTAssertTrue(error.needsSecurity)
        }
        let outcome = try await security.secure()
        guard case .paired(let bond, bonded: true) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(bond.secureConnections)
        XCTAssertEqual(bond.keySize, 16)
        XCTAssertTrue(bond.matches(Self.cuff))
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 5), "the rig did not report the pairing")
        let isEncrypted = await first.isEncrypted
        XCTAssertTrue(isEncrypted)
        let value = try await receiveReading(first, characteristic)
        XCTAssertEqual(value, Self.reading)
        XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed"], timeout: 5))
        let stored = try await bonds.bond(for: Self.cuff)
        XCTAssertEqual(stored, bond)
        await first.disconnect()
        await events.value

        // Second link: the stored LTK, no pairing.
        let second = try await host.connect(to: Self.cuff)
        let again = LinkSecurity(channel: second, bonds: BondStore(dataDirectory: directory))
        let events2 = Task { await again.run() }
        let reencrypted = try await again.secure()
        XCTAssertEqual(reencrypted, .reencrypted(bond))
        XCTAssertNotNil(rig.waitForEvent(containing: ["encryption_changed", "\"encrypted\": true"], timeout: 5))
        let secondValue = try await receiveReading(second, try await measurement(second))
        XCTAssertEqual(secondValue, Self.reading)
        XCTAssertEqual(rig.events.filter { $0.contains("\"paired\"") }.count, 1, "paired again: \(rig.events)")
        await second.disconnect()
        await events2.value
        await host.close()
        XCTAssertEqual(rig.hostBugs, [], "the rig flagged host mistakes")
    }

    func testTheCuffRefusesLegacyPairing() async throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        let host = try await host(rig)
        let connection = try await host.connect(to: Self.cuff)
        let security = LinkSecurity(channel: connection, bonds: BondStore(dataDirectory: directory))
        await security.askForLegacyPairingOnly()
        let events = Task { await security.run() }
        do {
            _ = try await security.secure()
            XCTFail("the cuff accepted legacy pairing")
        } catch {
            XCTAssertEqual(error.kind, .rejectedByDevice(.authenticationRequirements), error.message)
        }
        let bonds = try await BondStore(dataDirectory: directory).allBonds()
        XCTAssertEqual(bonds, [], "no bond after a refusal")
        await connection.disconnect()
        await events.value
        await host.close()
    }

    func testALostBondIsAClearErrorOrPairedAgainWhenAllowed() async throws {
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        // A bond the cuff never made: as if the cuff had been reset.
        let bonds = BondStore(dataDirectory: directory)
        try await bonds.save(Bond(address: Self.cuff, longTermKey: SecretKey(octets: Array(repeating: 0x5A, count: 16))!, pairedAtMilliseconds: 0))
        let host = try await host(rig)

        let connection = try await host.connect(to: Self.cuff)
        let security = LinkSecurity(channel: connection, bonds: bonds)
        let events = Task { await security.run() }
        do {
            _ = try await security.secure()
            XCTFail("encrypted with a key the cuff does not have")
        } catch {
            XCTAssertEqual(error.kind, .keyMissing, error.message)
        }
        await connection.disconnect()
        await events.value

        let retry = try await host.connect(to: Self.cuff)
        let repairing = LinkSecurity(channel: retry, bonds: bonds, policy: PairingPolicy(repairWhenKeyMissing: true))
        let events2 = Task { await repairing.run() }
        let outcome = try await repairing.secure()
        guard case .paired(_, bonded: true) = outcome else { return XCTFail("\(outcome)") }
        await retry.disconnect()
        await events2.value
        await host.close()
    }

    /// The rig's scenario with the cuff's `pairing` settings replaced, written to a temporary file.
    private func scenario(cuffPairing: [String: Bool]) throws -> [String]? {
        guard let rigDirectory = BLERig.directory else { return nil }
        let data = try Data(contentsOf: rigDirectory.appendingPathComponent("scenario.json"))
        var scenario = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        var devices = try XCTUnwrap(scenario["devices"] as? [[String: Any]])
        let index = try XCTUnwrap(devices.firstIndex { $0["id"] as? String == "bp" })
        devices[index]["pairing"] = cuffPairing
        scenario["devices"] = devices
        let path = (directory as NSString).appendingPathExtension("scenario.json")!
        try JSONSerialization.data(withJSONObject: scenario).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return ["--scenario", path, "--only", "bp"]
    }

    func testTheCuffsSecurityRequestIsAnsweredByPairing() async throws {
        guard let arguments = try scenario(cuffPairing: ["required": true, "sc_only": true, "bonding": true, "security_request": true]),
              let rig = try BLERig.start(arguments)
        else { return }
        defer { rig.stop() }
        let host = try await host(rig)
        let connection = try await host.connect(to: Self.cuff)
        let security = LinkSecurity(channel: connection, bonds: BondStore(dataDirectory: directory))
        let events = Task { await security.run() }
        // Nobody calls secure(): the cuff asks, the gateway pairs.
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 10), "the Security Request was not answered")
        var outcome = await security.outcome
        for _ in 0..<100 where outcome == nil {
            try await Task.sleep(for: .milliseconds(20))
            outcome = await security.outcome
        }
        guard case .success(.paired(_, bonded: true))? = outcome else { return XCTFail("\(String(describing: outcome))") }
        let value = try await receiveReading(connection, try await measurement(connection))
        XCTAssertEqual(value, Self.reading)
        await connection.disconnect()
        await events.value
        await host.close()
        XCTAssertEqual(rig.hostBugs, [])
    }

    /// Only the pairing is checked here: Bumble 0.0.236, as a legacy peripheral, answers the LTK
    /// request with the key the *central* distributed (`Device.get_long_term_key` looks up
    /// `ltk_peripheral`), where the specification has the central use the key, EDIV and Rand the
    /// peripheral distributed (as this gateway does; the state machine tests cover it).
    func testLegacyJustWorksWhenTheProfileAllowsIt() async throws {
        guard let arguments = try scenario(cuffPairing: ["required": true, "sc_only": false, "bonding": true, "security_request": false]),
              let rig = try BLERig.start(arguments)
        else { return }
        defer { rig.stop() }
        let bonds = BondStore(dataDirectory: directory)
        let host = try await host(rig)
        let connection = try await host.connect(to: Self.cuff)
        let security = LinkSecurity(channel: connection, bonds: bonds, policy: PairingPolicy(allowLegacyPairing: true))
        await security.askForLegacyPairingOnly()
        let events = Task { await security.run() }
        let outcome = try await security.secure()
        guard case .paired(let bond, bonded: true) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertFalse(bond.secureConnections)
        XCTAssertNotEqual(bond.longTermKey.octets, [UInt8](repeating: 0, count: 16), "the cuff distributed its LTK")
        XCTAssertNotNil(rig.waitForEvent(containing: ["\"paired\"", "\"bp\""], timeout: 5))
        let value = try await receiveReading(connection, try await measurement(connection))
        XCTAssertEqual(value, Self.reading)
        let stored = try await bonds.bond(for: Self.cuff)
        XCTAssertEqual(stored, bond)
        await connection.disconnect()
        await events.value
        await host.close()
        XCTAssertEqual(rig.hostBugs, [])
    }
}

extension LinkSecurity {
    /// Plays a central that asks for legacy pairing only (no Secure Connections bit).
    func askForLegacyPairingOnly() {
        requestSecureConnections = false
    }
}
