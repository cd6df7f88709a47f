@testable import Bluetooth
import Foundation
import XCTest

/// `LinkSecurity` over a channel whose far end is the specification responder, and the bond
/// store on disk.
final class PairingLinkSecurityTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bonds-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testPairingKeepsTheBondAndTheNextLinkIsReencryptedWithoutPairing() async throws {
        let bonds = BondStore(dataDirectory: directory)
        let first = try ScriptedPeer()
        let security = LinkSecurity(channel: first.channel, bonds: bonds)
        let events = Task { await security.run() }
        let outcome = try await security.secure()
        guard case .paired(let bond, bonded: true) = outcome else { return XCTFail("\(outcome)") }
        let again = try await security.secure()
        XCTAssertEqual(again, outcome, "a secured link stays secured")
        first.disconnect()
        await events.value

        let stored = try await bonds.bond(for: PairingStateMachineTests.cuff)
        XCTAssertEqual(stored, bond)
        let responderLTK = await first.responderLTK
        XCTAssertEqual(stored?.longTermKey.octets, responderLTK)

        let second = try ScriptedPeer()
        let reconnect = LinkSecurity(channel: second.channel, bonds: bonds)
        let events2 = Task { await reconnect.run() }
        let outcome2 = try await reconnect.secure()
        XCTAssertEqual(outcome2, .reencrypted(bond))
        let sent = await second.sent
        XCTAssertTrue(sent.isEmpty, "no SMP on a bonded reconnection: \(sent.map(\.name))")
        let encryptedWith = await second.encryptedWith
        XCTAssertEqual(encryptedWith, bond.longTermKey.octets)
        second.disconnect()
        await events2.value
    }

    func testASilentDeviceTimesOut() async throws {
        let peer = try ScriptedPeer(silent: true)
        let security = LinkSecurity(channel: peer.channel, bonds: BondStore(dataDirectory: directory), smpTimeout: .milliseconds(200))
        let events = Task { await security.run() }
        do {
            _ = try await security.secure()
            XCTFail("secured a silent device")
        } catch {
            XCTAssertEqual(error.kind, .timeout)
        }
        peer.disconnect()
        await events.value
    }

    func testASecurityRequestFromTheDeviceIsAnsweredByPairing() async throws {
        let peer = try ScriptedPeer()
        let security = LinkSecurity(channel: peer.channel, bonds: BondStore(dataDirectory: directory))
        let events = Task { await security.run() }
        peer.deliver(.smp(SecurityManagerPDU.securityRequest([.bonding, .secureConnections]).bytes))
        for _ in 0..<200 where await security.outcome == nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard case .success(.paired)? = await security.outcome else { return XCTFail("\(String(describing: await security.outcome))") }
        peer.disconnect()
        await events.value
    }

    func testALinkThatDropsFailsTheWaitingCall() async throws {
        let peer = try ScriptedPeer(silent: true)
        let security = LinkSecurity(channel: peer.channel, bonds: BondStore(dataDirectory: directory))
        let events = Task { await security.run() }
        Task {
            try await Task.sleep(for: .milliseconds(100))
            peer.disconnect(reason: 0x08)
        }
        do {
            _ = try await security.secure()
            XCTFail("secured a link that dropped")
        } catch {
            XCTAssertEqual(error.kind, .disconnected(reason: 0x08))
        }
        await events.value
    }

    // MARK: Bond store

    func testTheBondFileIsPrivateAndSurvivesReopening() async throws {
        let bonds = BondStore(dataDirectory: directory)
        let bond = Bond(
            address: PairingStateMachineTests.cuff, longTermKey: SecretKey(octets: Array(0..<16))!, ediv: 0x1234, rand: 0xDEAD_BEEF_0000_0001,
            identityResolvingKey: SecretKey(octets: Array(16..<32)), keySize: 12, authenticated: false, secureConnections: false,
            pairedAtMilliseconds: 1_705_307_400_000)
        try await bonds.save(bond)
        let irk = try await bonds.localIdentityResolvingKey { Array(repeating: 7, count: 16) }
        let irkAgain = try await bonds.localIdentityResolvingKey { Array(repeating: 9, count: 16) }
        XCTAssertEqual(irkAgain, irk, "created once")

        let reopened = BondStore(dataDirectory: directory)
        let all = try await reopened.allBonds()
        XCTAssertEqual(all, [bond])
        let found = try await reopened.bond(for: PairingStateMachineTests.cuff)
        XCTAssertEqual(found, bond)
        let other = try await reopened.bond(for: PairingStateMachineTests.gateway)
        XCTAssertNil(other)

        let file = try FileManager.default.attributesOfItem(atPath: bonds.path)
        XCTAssertEqual((file[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let folder = try FileManager.default.attributesOfItem(atPath: (bonds.path as NSString).deletingLastPathComponent)
        XCTAssertEqual((folder[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bonds.path + ".tmp"))

        var replaced = bond
        replaced.longTermKey = SecretKey(octets: Array(repeating: 1, count: 16))!
        try await reopened.save(replaced)
        let afterReplace = try await bonds.allBonds()
        XCTAssertEqual(afterReplace, [replaced], "one bond per device")
        let removed = try await bonds.remove(PairingStateMachineTests.cuff)
        XCTAssertTrue(removed)
        let removedAgain = try await bonds.remove(PairingStateMachineTests.cuff)
        XCTAssertFalse(removedAgain)
        let empty = try await bonds.allBonds()
        XCTAssertEqual(empty, [])
    }

    func testABondFileOthersCanReadIsRefused() async throws {
        let bonds = BondStore(dataDirectory: directory)
        try await bonds.save(Bond(address: PairingStateMachineTests.cuff, longTermKey: SecretKey(octets: Array(0..<16))!, pairedAtMilliseconds: 0))
        chmod(bonds.path, 0o644)
        do {
            _ = try await bonds.allBonds()
            XCTFail("read a world-readable bond file")
        } catch {
            XCTAssertTrue(error.description.contains("chmod 600"), error.description)
            XCTAssertTrue(error.description.contains(bonds.path), error.description)
        }
    }

    func testADamagedBondFileIsAClearError() async throws {
        let bonds = BondStore(dataDirectory: directory)
        _ = try await bonds.allBonds()
        _ = FileManager.default.createFile(atPath: bonds.path, contents: Data(#"{"format": 1, "bonds": [{"address": "nope"}]}"#.utf8), attributes: [.posixPermissions: 0o600])
        do {
            _ = try await bonds.allBonds()
            XCTFail("read a damaged bond file")
        } catch {
            XCTAssertTrue(error.description.contains("bonds[0]"), error.description)
        }
        _ = FileManager.default.createFile(atPath: bonds.path, contents: Data("{".utf8), attributes: [.posixPermissions: 0o600])
        do {
            _ = try await bonds.allBonds()
            XCTFail("read a truncated bond file")
        } catch {
            XCTAssertTrue(error.description.contains("not valid JSON"), error.description)
        }
    }
}

/// A link whose peer is `SpecResponder`: SMP PDUs go to it, its replies come back as events;
/// encryption with the LTK it derived (or a stored one) succeeds.
final class ScriptedPeer: Sendable {
    let channel: FakeSecurityChannel
    private let state: PeerState

    init(silent: Bool = false) throws {
        let (stream, continuation) = AsyncStream.makeStream(of: SecurityEvent.self)
        state = PeerState(responder: try SpecResponder(central: PairingStateMachineTests.gateway, peripheral: PairingStateMachineTests.cuff), silent: silent, events: continuation)
        channel = FakeSecurityChannel(
            link: LinkInfo(handle: 0x40, role: .central, peer: PairingStateMachineTests.cuff, local: PairingStateMachineTests.gateway),
            securityEvents: stream, peer: state)
    }

    var sent: [SecurityManagerPDU] { get async { await state.sent } }
    var encryptedWith: [UInt8] { get async { await state.encryptedWith } }
    var responderLTK: [UInt8] { get async { await state.responder.ltk } }

    func deliver(_ event: SecurityEvent) { state.events.yield(event) }

    func disconnect(reason: UInt8 = 0x13) {
        state.events.yield(.disconnected(reason: reason))
        state.events.finish()
    }
}

actor PeerState {
    var responder: SpecResponder
    let silent: Bool
    nonisolated let events: AsyncStream<SecurityEvent>.Continuation
    var sent: [SecurityManagerPDU] = []
    var encryptedWith: [UInt8] = []

    init(responder: SpecResponder, silent: Bool, events: AsyncStream<SecurityEvent>.Continuation) {
        self.responder = responder
        self.silent = silent
        self.events = events
    }

    func received(_ bytes: [UInt8]) throws {
        let pdu = try SecurityManagerPDU(bytes: bytes)
        sent.append(pdu)
        guard !silent else { return }
        for reply in try responder.receive(pdu) { events.yield(.smp(reply.bytes)) }
    }

    func encrypt(_ key: [UInt8]) {
        encryptedWith = key
        let known = key == responder.ltk || sent.isEmpty
        events.yield(.encryptionChanged(status: known ? 0 : 0x06, enabled: known))
        if known, !sent.isEmpty {
            for pdu in responder.distributeKeys() { events.yield(.smp(pdu.bytes)) }
        }
    }
}

struct FakeSecurityChannel: SecurityChannel {
    let link: LinkInfo
    let securityEvents: AsyncStream<SecurityEvent>
    let peer: PeerState

    func sendSecurityPDU(_ pdu: [UInt8]) async throws {
        try await peer.received(pdu)
    }

    func startEncryption(longTermKey: [UInt8], encryptedDiversifier: UInt16, randomNumber: UInt64) async throws {
        await peer.encrypt(longTermKey)
    }
}
