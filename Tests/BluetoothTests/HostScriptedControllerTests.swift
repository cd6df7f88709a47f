import BluetoothDecoding
import EdgeCore
import XCTest

@testable import Bluetooth

/// A controller played by the test: every command is answered as a BT 5 controller would
/// (unless told to stay silent), and the test injects events and ACL data. Sent packets are recorded.
final class ScriptedController: HCITransport {
    let incoming: AsyncThrowingStream<H4Packet, any Error>
    private let continuation: AsyncThrowingStream<H4Packet, any Error>.Continuation
    private let state = Locked<State>(State())
    let extended: Bool

    struct State {
        var sent: [H4Packet] = []
        var silent: Set<UInt16> = []
        var mute = false
    }

    init(extended: Bool = true) {
        self.extended = extended
        (incoming, continuation) = AsyncThrowingStream.makeStream(of: H4Packet.self, throwing: (any Error).self)
    }

    var sent: [H4Packet] { state.withLock { $0.sent } }
    var sentOpcodes: [UInt16] { sent.compactMap { if case .command(let opcode, _) = $0 { opcode } else { nil } } }
    var sentACL: [[UInt8]] { sent.compactMap { if case .acl(_, _, let data) = $0 { data } else { nil } } }

    func stayingSilent(on opcode: UInt16) { _ = state.withLock { $0.silent.insert(opcode) } }

    /// From now on nothing is answered: a controller that hung (or a UART that lost its peer).
    func goSilent() { state.withLock { $0.mute = true } }

    func inject(_ packet: H4Packet) { continuation.yield(packet) }

    func injectL2CAP(handle: UInt16, channel: UInt16, _ payload: [UInt8]) {
        inject(.acl(handle: handle, boundary: 0b10, data: L2CAPChannel.frame(channel: channel, payload: payload)))
    }

    func send(_ packet: H4Packet) {
        let silent = state.withLock { state in
            state.sent.append(packet)
            if state.mute { return true }
            if case .command(let opcode, _) = packet { return state.silent.contains(opcode) }
            return false
        }
        guard case .command(let opcode, _) = packet, !silent else { return }
        let complete = { (parameters: [UInt8]) in
            self.inject(.event(code: 0x0E, parameters: [0x01] + le16(opcode) + [0x00] + parameters))
        }
        switch opcode {
        case 0x1001: complete([0x09, 0x00, 0x00, 0x09, 0xFF, 0xFF, 0x00, 0x00])
        case 0x1002:
            var commands = [UInt8](repeating: 0xFF, count: 64)
            if !extended { commands[37] = 0 }
            complete(commands)
        case 0x2003: complete(extended ? [0xFF, 0x1F, 0, 0, 0, 0, 0, 0] : [0xFF, 0x0F, 0, 0, 0, 0, 0, 0])
        case 0x2002: complete(le16(27) + [4])
        case 0x1009: complete([0x01, 0x00, 0x00, 0xEF, 0xBE, 0x00])
        case 0x200D, 0x2043, 0x0406, 0x2019, 0x2013: inject(.event(code: 0x0F, parameters: [0x00, 0x01] + le16(opcode)))
        default: complete([])
        }
    }

    func close() { continuation.finish() }
}

final class HostScriptedControllerTests: XCTestCase {
    let peer = BluetoothAddress("F0:00:00:00:18:0D", type: .random)!

    private func connected(_ controller: ScriptedController, configuration: HostConfiguration = HostConfiguration()) async throws -> (BluetoothHost, GATTConnection) {
        let host = BluetoothHost(transport: controller, configuration: configuration)
        _ = try await host.start()
        let peer = self.peer
        let connection = Task { try await host.connect(to: peer, timeout: .seconds(5)) }
        try await waitUntil { controller.sentOpcodes.contains(0x2043) || controller.sentOpcodes.contains(0x200D) }
        controller.inject(.event(code: 0x3E, parameters: [0x01, 0x00] + le16(0x0040) + [0x00, 0x01] + peer.littleEndianBytes + le16(24) + le16(0) + le16(500) + [0]))
        return (host, try await connection.value)
    }

    private func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
        XCTAssertTrue(condition(), "condition not met in time")
    }

    func testSetupEnablesLEMetaAndChoosesOneCommandFamily() async throws {
        let controller = ScriptedController(extended: false)
        let host = BluetoothHost(transport: controller)
        let info = try await host.start()
        XCTAssertFalse(info.usesExtendedCommands)
        XCTAssertEqual(info.address, BluetoothAddress("00:BE:EF:00:00:01", type: .public))
        XCTAssertEqual(info.aclBufferLength, 27)
        XCTAssertEqual(controller.sentOpcodes.prefix(2), [0x0C03, 0x0C01])
        guard case .command(_, let mask) = controller.sent[1] else { return XCTFail("no event mask") }
        XCTAssertEqual(mask.uint(at: 0, 8).map { $0 >> 61 & 1 }, 1, "LE Meta (bit 61) enabled")
        _ = try await host.startScan(ScanOptions(active: true))
        try await host.stopScan()
        XCTAssertTrue(controller.sentOpcodes.contains(0x200B))
        XCTAssertFalse(controller.sentOpcodes.contains { (0x2041...0x2043).contains($0) }, "no extended command after choosing legacy")
        await host.close()
    }

    func testACommandWithoutAnswerTimesOut() async throws {
        let controller = ScriptedController()
        controller.stayingSilent(on: 0x0C03)
        var configuration = HostConfiguration()
        configuration.commandTimeout = .milliseconds(100)
        let host = BluetoothHost(transport: controller, configuration: configuration)
        do {
            _ = try await host.start()
            XCTFail("started without a reset")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .timeout)
            XCTAssertTrue(error.message.contains("HCI Reset"), error.message)
        }
        await host.close()
    }

    func testParameterUpdateRequestIsAnsweredAndApplied() async throws {
        let controller = ScriptedController()
        let (host, _) = try await connected(controller)
        controller.injectL2CAP(handle: 0x40, channel: 5, [0x12, 0x21] + le16(8) + le16(24) + le16(40) + le16(0) + le16(500))
        try await waitUntil { controller.sentOpcodes.contains(0x2013) }
        XCTAssertTrue(controller.sentACL.contains(L2CAPChannel.frame(channel: 5, payload: [0x13, 0x21, 0x02, 0x00, 0x00, 0x00])))
        await host.close()
    }

    func testPeerATTRequestsAndPairingRequestsAreAnswered() async throws {
        let controller = ScriptedController()
        let (host, connection) = try await connected(controller)
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x0A] + le16(3))
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x18, 0x01])
        controller.injectL2CAP(handle: 0x40, channel: 6, [0x01, 0x03, 0x00, 0x2D, 0x10, 0x07, 0x07])
        try await waitUntil { controller.sentACL.count >= 3 }
        XCTAssertEqual(controller.sentACL[0], L2CAPChannel.frame(channel: 4, payload: [0x0B] + Array("fhir-edge".utf8)))
        XCTAssertEqual(controller.sentACL[1], L2CAPChannel.frame(channel: 4, payload: [0x01, 0x18, 0x00, 0x00, 0x06]))
        XCTAssertEqual(controller.sentACL[2], L2CAPChannel.frame(channel: 6, payload: [0x05, 0x05]))
        var iterator = connection.securityEvents.makeAsyncIterator()
        let event = await iterator.next()
        XCTAssertEqual(event, .smp([0x01, 0x03, 0x00, 0x2D, 0x10, 0x07, 0x07]))
        await host.close()
    }

    func testWithASecurityManagerSMPIsHandedOverAndEncryptionReported() async throws {
        let controller = ScriptedController()
        var configuration = HostConfiguration()
        configuration.handlesSecurity = true
        let (host, connection) = try await connected(controller, configuration: configuration)
        controller.injectL2CAP(handle: 0x40, channel: 6, [0x0B, 0x2D])
        try await connection.startEncryption(longTermKey: Array(repeating: 7, count: 16), encryptedDiversifier: 0, randomNumber: 0)
        controller.inject(.event(code: 0x08, parameters: [0x00] + le16(0x40) + [0x01]))
        var events: [SecurityEvent] = []
        for await event in connection.securityEvents {
            events.append(event)
            if events.count == 2 { break }
        }
        XCTAssertEqual(events, [.smp([0x0B, 0x2D]), .encryptionChanged(status: 0, enabled: true)])
        let encrypted = await connection.isEncrypted
        XCTAssertTrue(encrypted)
        XCTAssertFalse(controller.sentACL.contains { $0.count >= 5 && $0[2] == 0x06 }, "nothing sent on SMP by the host itself")
        guard case .command(_, let parameters) = controller.sent.last(where: { if case .command(0x2019, _) = $0 { true } else { false } }) else {
            return XCTFail("no LE Enable Encryption")
        }
        XCTAssertEqual(parameters.count, 2 + 8 + 2 + 16)
        await host.close()
    }

    func testLongWritesAreRefusedAndLongReadsUseReadBlob() async throws {
        let controller = ScriptedController()
        let (host, connection) = try await connected(controller)
        do {
            try await connection.write(0x10, value: Array(repeating: 0, count: 21))
            XCTFail("a 21-byte write fit a 23-byte MTU")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .invalidRequest)
        }
        async let value = connection.read(0x16)
        try await waitUntil { controller.sentACL.count == 1 }
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x0B] + Array(repeating: 0x41, count: 22))
        try await waitUntil { controller.sentACL.count == 2 }
        XCTAssertEqual(controller.sentACL[1], L2CAPChannel.frame(channel: 4, payload: [0x0C] + le16(0x16) + le16(22)))
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x0D, 0x42, 0x43])
        let read = try await value
        XCTAssertEqual(read, Array(repeating: 0x41, count: 22) + [0x42, 0x43])
        await host.close()
    }

    func testACLCreditsLimitWhatIsInFlight() async throws {
        let controller = ScriptedController()
        let (host, connection) = try await connected(controller)
        // Four LE buffers, none returned yet: one goes to the write, three to the first three
        // signalling rejects; the fourth reject waits for Number Of Completed Packets.
        async let first: Void = connection.write(0x10, value: Array(repeating: 1, count: 17))
        try await waitUntil { controller.sentACL.count == 1 }
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x13])
        try await first
        for identifier: UInt8 in 1...4 { controller.injectL2CAP(handle: 0x40, channel: 5, [0x7F, identifier, 0x00, 0x00]) }
        try await waitUntil { controller.sentACL.count == 4 }
        try await Task.sleep(for: .milliseconds(50))
        XCTAssertEqual(controller.sentACL.count, 4, "no credit left for the fourth reply")
        controller.inject(.event(code: 0x13, parameters: [0x01] + le16(0x40) + le16(2)))
        try await waitUntil { controller.sentACL.count == 5 }
        await host.close()
    }

    func testAConnectionAttemptIsCancelledAndNeverHangs() async throws {
        let controller = ScriptedController()
        var configuration = HostConfiguration()
        configuration.commandTimeout = .milliseconds(100)
        let host = BluetoothHost(transport: controller, configuration: configuration)
        _ = try await host.start()
        do {
            _ = try await host.connect(to: peer, timeout: .milliseconds(50))
            XCTFail("connected to nobody")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .timeout)
        }
        XCTAssertTrue(controller.sentOpcodes.contains(0x200E), "LE Create Connection Cancel sent")
        await host.close()
    }
}
