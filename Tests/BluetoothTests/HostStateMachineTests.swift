import BluetoothDecoding
import XCTest

@testable import Bluetooth

/// The host's decisions, driven by events without a controller.
final class H4FramerTests: XCTestCase {
    let event: [UInt8] = [0x04, 0x0E, 0x04, 0x01, 0x03, 0x0C, 0x00]  // Command Complete: Reset, success
    let acl: [UInt8] = [0x02, 0x40, 0x20, 0x03, 0x00, 0xAA, 0xBB, 0xCC]

    func testPacketsSplitAcrossReadsOneByteAtATime() {
        var framer = H4Framer()
        var packets: [H4Packet] = []
        for byte in event + acl { packets += framer.push([byte]) }
        XCTAssertEqual(packets, [.event(code: 0x0E, parameters: [0x01, 0x03, 0x0C, 0x00]),
                                 .acl(handle: 0x0040, boundary: 0b10, data: [0xAA, 0xBB, 0xCC])])
        XCTAssertEqual(framer.discardedBytes, 0)
    }

    func testGarbageBetweenPacketsIsDroppedAndCounted() {
        var framer = H4Framer()
        let garbage: [UInt8] = [0x00, 0xFF, 0x7A, 0x04, 0x99, 0x33]
        let packets = framer.push(event + garbage + acl + [0x13, 0x37] + event)
        XCTAssertEqual(packets.count, 3)
        XCTAssertEqual(packets.last, .event(code: 0x0E, parameters: [0x01, 0x03, 0x0C, 0x00]))
        XCTAssertEqual(framer.discardedBytes, garbage.count + 2)
        XCTAssertEqual(framer.resyncs, 2)
    }

    func testImplausibleACLHeaderIsGarbage() {
        var framer = H4Framer()
        // Boundary flag 0b11 and a 60 000-byte length are not what a controller sends.
        XCTAssertEqual(framer.push([0x02, 0x40, 0x30, 0x03, 0x00] + event).count, 1)
        XCTAssertEqual(framer.push([0x02, 0x40, 0x20, 0x60, 0xEA] + event).count, 1)
        XCTAssertEqual(framer.discardedBytes, 10)
    }

    func testEncodingRoundTrips() {
        var framer = H4Framer()
        let packets: [H4Packet] = [.event(code: 0x3E, parameters: [0x02, 0x00]), .acl(handle: 1, boundary: 0b01, data: Array(0..<27))]
        XCTAssertEqual(framer.push(packets.flatMap(\.encoded)), packets)
        XCTAssertEqual(H4Packet.command(opcode: 0x0C03, parameters: []).encoded, [0x01, 0x03, 0x0C, 0x00])
    }
}

final class HCIEventTests: XCTestCase {
    func testLegacyAdvertisingReport() {
        let data: [UInt8] = [0x02, 0x01, 0x06]
        let parameters: [UInt8] = [0x02, 0x01, 0x03, 0x01, 0xD2, 0xFC, 0x00, 0x00, 0x00, 0xF0, UInt8(data.count)] + data + [0xC4]
        guard case .advertisingReports(let reports) = HCIEvent(code: 0x3E, parameters: parameters) else { return XCTFail("not a report") }
        XCTAssertEqual(reports.count, 1)
        XCTAssertEqual(reports[0].address.description, "F0:00:00:00:FC:D2")
        XCTAssertEqual(reports[0].address.type, .random)
        XCTAssertFalse(reports[0].connectable)
        XCTAssertEqual(reports[0].rssi, -60)
        XCTAssertEqual(reports[0].data, data)
    }

    func testExtendedAdvertisingReportBits() {
        var report: [UInt8] = le16(0x0013) + [0x01] + [0x0D, 0x18, 0x00, 0x00, 0x00, 0xF0] + [0x01, 0x00, 0xFF, 0x7F, 0xC9] + le16(0) + [0x00] + [UInt8](repeating: 0, count: 6)
        report += [0x03, 0x02, 0x01, 0x06]
        guard case .advertisingReports(let reports) = HCIEvent(code: 0x3E, parameters: [0x0D, 0x01] + report) else { return XCTFail("not a report") }
        XCTAssertEqual(reports.first?.connectable, true)
        XCTAssertEqual(reports.first?.scannable, true)
        XCTAssertEqual(reports.first?.isScanResponse, false)
        XCTAssertEqual(reports.first?.rssi, -55)
        XCTAssertEqual(reports.first?.data, [0x02, 0x01, 0x06])
    }

    func testConnectionCompleteAndEnhanced() {
        let address: [UInt8] = [0x0D, 0x18, 0x00, 0x00, 0x00, 0xF0]
        let legacy: [UInt8] = [0x01, 0x00, 0x40, 0x00, 0x00, 0x01] + address + le16(0x18) + le16(0) + le16(0x1F4) + [0]
        let enhanced: [UInt8] = [0x0A, 0x00, 0x40, 0x00, 0x00, 0x01] + address + [UInt8](repeating: 0, count: 12) + le16(0x18) + le16(0) + le16(0x1F4) + [0]
        for parameters in [legacy, enhanced] {
            guard case .connectionComplete(let complete) = HCIEvent(code: 0x3E, parameters: parameters) else { return XCTFail("not a connection") }
            XCTAssertEqual(complete.handle, 0x40)
            XCTAssertEqual(complete.role, .central)
            XCTAssertEqual(complete.peer, BluetoothAddress("F0:00:00:00:18:0D", type: .random))
            XCTAssertEqual(complete.interval, 0x18)
        }
    }

    func testTruncatedEventsAreMalformedNotFatal() {
        XCTAssertEqual(HCIEvent(code: 0x0E, parameters: [0x01]), .malformed(code: 0x0E))
        XCTAssertEqual(HCIEvent(code: 0x3E, parameters: [0x02, 0x01, 0x00]), .malformed(code: 0x3E))
        XCTAssertEqual(HCIEvent(code: 0x13, parameters: [0x02, 0x40, 0x00]), .malformed(code: 0x13))
        XCTAssertEqual(HCIEvent(code: 0x3E, parameters: []), .malformed(code: 0x3E))
    }

    func testExtendedCommandsChosenOnlyWhenAllThreeAndTheFeatureAreThere() {
        var commands = [UInt8](repeating: 0, count: 64)
        commands[37] = 0xE0
        XCTAssertTrue(BluetoothHost.supportsExtendedCommands(supportedCommands: commands, leFeatures: [0, 0x10, 0, 0, 0, 0, 0, 0]))
        XCTAssertFalse(BluetoothHost.supportsExtendedCommands(supportedCommands: commands, leFeatures: [0, 0, 0, 0, 0, 0, 0, 0]))
        commands[37] = 0x60
        XCTAssertFalse(BluetoothHost.supportsExtendedCommands(supportedCommands: commands, leFeatures: [0, 0x10, 0, 0, 0, 0, 0, 0]))
        XCTAssertFalse(BluetoothHost.supportsExtendedCommands(supportedCommands: [], leFeatures: []))
    }
}

final class CommandFlowTests: XCTestCase {
    func testOneCommandInFlightAnsweredByOpcode() {
        var flow = CommandFlow()
        XCTAssertEqual(flow.submit(.reset, ticket: 1), [.send(.reset, 1)])
        XCTAssertEqual(flow.submit(.readDeviceAddress, ticket: 2), [])
        // An answer for another opcode (a stray NOP) frees a credit but completes nothing.
        XCTAssertEqual(flow.received(.commandComplete(credits: 1, opcode: 0x0000, returnParameters: [])), [])
        let actions = flow.received(.commandComplete(credits: 1, opcode: 0x0C03, returnParameters: [0x00]))
        XCTAssertEqual(actions, [.finish(1, .success(.init(status: 0, returnParameters: []))), .send(.readDeviceAddress, 2)])
        XCTAssertEqual(flow.received(.commandComplete(credits: 1, opcode: 0x1009, returnParameters: [0x00, 1, 2, 3, 4, 5, 6])),
                       [.finish(2, .success(.init(status: 0, returnParameters: [1, 2, 3, 4, 5, 6])))])
        XCTAssertTrue(flow.isIdle)
    }

    func testNoCreditsMeansWaiting() {
        var flow = CommandFlow()
        _ = flow.submit(.reset, ticket: 1)
        // The controller answers but has no room for another command yet.
        _ = flow.submit(.readLocalVersion, ticket: 2)
        XCTAssertEqual(flow.received(.commandComplete(credits: 0, opcode: 0x0C03, returnParameters: [0])).count, 1)
        XCTAssertEqual(flow.received(.commandComplete(credits: 1, opcode: 0x0000, returnParameters: [])), [.send(.readLocalVersion, 2)])
    }

    func testFailureStatusAndCommandStatus() {
        var flow = CommandFlow()
        let create = HCICommand.leCreateConnectionCancel
        _ = flow.submit(create, ticket: 1)
        guard case .finish(1, .failure(let error)) = flow.received(.commandComplete(credits: 1, opcode: create.opcode, returnParameters: [0x0C])).first else {
            return XCTFail("no failure")
        }
        XCTAssertEqual(error.kind, .command(status: 0x0C))
        XCTAssertTrue(error.message.contains("LE Create Connection Cancel"), error.message)
        XCTAssertTrue(error.message.contains("command disallowed"), error.message)
        let disconnect = HCICommand.disconnect(handle: 1, reason: 0x13)
        _ = flow.submit(disconnect, ticket: 2)
        XCTAssertEqual(flow.received(.commandStatus(status: 0, credits: 1, opcode: disconnect.opcode)), [.finish(2, .success(.init(status: 0, returnParameters: [])))])
    }

    func testTimeoutFailsTheCommandAndFreesTheNext() {
        var flow = CommandFlow()
        _ = flow.submit(.reset, ticket: 1)
        _ = flow.submit(.readLocalVersion, ticket: 2)
        let actions = flow.timedOut(1)
        guard case .finish(1, .failure(let error)) = actions.first else { return XCTFail("no timeout") }
        XCTAssertEqual(error.kind, .timeout)
        XCTAssertEqual(actions.last, .send(.readLocalVersion, 2))
        XCTAssertEqual(flow.timedOut(1), [])
    }
}

final class ACLFlowTests: XCTestCase {
    func testFragmentsToTheBufferSizeAndWaitsForCredits() {
        var flow = ACLFlow(fragmentLength: 27, buffers: 2)
        let pdu = L2CAPChannel.frame(channel: 4, payload: Array(repeating: 0xAB, count: 60))  // 64 bytes: 27 + 27 + 10
        let first = flow.enqueue(handle: 0x40, pdu: pdu)
        XCTAssertEqual(first.count, 2)
        XCTAssertEqual(first.map { packet -> Int in if case .acl(_, _, let data) = packet { return data.count } else { return -1 } }, [27, 27])
        XCTAssertEqual(first.map { packet -> UInt8 in if case .acl(_, let boundary, _) = packet { return boundary } else { return 9 } }, [0b00, 0b01])
        XCTAssertEqual(flow.queuedFragments, 1)
        let rest = flow.completed(handle: 0x40, count: 1)
        XCTAssertEqual(rest, [.acl(handle: 0x40, boundary: 0b01, data: Array(pdu[54...]))])
        // Credits never exceed the controller's buffers, whatever a controller reports.
        _ = flow.completed(handle: 0x40, count: 10)
        XCTAssertEqual(flow.credits, 2)
    }

    func testDisconnectionReturnsCreditsAndDropsQueuedFragments() {
        var flow = ACLFlow(fragmentLength: 27, buffers: 1)
        _ = flow.enqueue(handle: 1, pdu: Array(repeating: 1, count: 60))
        XCTAssertEqual(flow.credits, 0)
        let next = flow.enqueue(handle: 2, pdu: [1, 2, 3, 4])
        XCTAssertEqual(next, [])
        XCTAssertEqual(flow.disconnected(handle: 1), [.acl(handle: 2, boundary: 0, data: [1, 2, 3, 4])])
        XCTAssertEqual(flow.queuedFragments, 0)
    }

    func testReassemblyFromFragments() {
        var reassembler = L2CAPReassembler()
        let pdu = L2CAPChannel.frame(channel: 4, payload: Array(0..<40))
        XCTAssertNil(reassembler.receive(handle: 1, boundary: 0b10, data: Array(pdu[0..<27])))
        XCTAssertEqual(reassembler.receive(handle: 1, boundary: 0b01, data: Array(pdu[27...])), .init(channel: 4, payload: Array(0..<40)))
        // A continuation with nothing open is dropped and counted.
        XCTAssertNil(reassembler.receive(handle: 1, boundary: 0b01, data: [1, 2]))
        XCTAssertEqual(reassembler.droppedFragments, 1)
        // A header split across fragments still reassembles.
        XCTAssertNil(reassembler.receive(handle: 2, boundary: 0b10, data: [0x01, 0x00]))
        XCTAssertEqual(reassembler.receive(handle: 2, boundary: 0b01, data: [0x05, 0x00, 0x09]), .init(channel: 5, payload: [9]))
    }
}

final class LESignallingTests: XCTestCase {
    func testAcceptsValidConnectionParameterUpdate() {
        let request: [UInt8] = [0x12, 0x07] + le16(8) + le16(24) + le16(40) + le16(0) + le16(500)
        let outcome = LESignalling.handle(request, role: .central)
        XCTAssertEqual(outcome.reply, [0x13, 0x07, 0x02, 0x00, 0x00, 0x00])
        XCTAssertEqual(outcome.update, .init(intervalMin: 24, intervalMax: 40, latency: 0, timeout: 500))
    }

    func testRejectsParametersOutOfRange() {
        // Supervision timeout 100 ms is too short for a 400 ms interval with latency 4.
        let request: [UInt8] = [0x12, 0x08] + le16(8) + le16(300) + le16(320) + le16(4) + le16(10)
        let outcome = LESignalling.handle(request, role: .central)
        XCTAssertEqual(outcome.reply, [0x13, 0x08, 0x02, 0x00, 0x01, 0x00])
        XCTAssertNil(outcome.update)
        let inverted: [UInt8] = [0x12, 0x09] + le16(8) + le16(40) + le16(24) + le16(0) + le16(500)
        XCTAssertNil(LESignalling.handle(inverted, role: .central).update)
    }

    func testUnknownRequestsAreRejectedAndResponsesIgnored() {
        XCTAssertEqual(LESignalling.handle([0x0A, 0x03, 0x02, 0x00, 0x01, 0x00], role: .central).reply, [0x01, 0x03, 0x02, 0x00, 0x00, 0x00])
        XCTAssertEqual(LESignalling.handle([0x7E, 0x04, 0x00, 0x00], role: .central).reply, [0x01, 0x04, 0x02, 0x00, 0x00, 0x00])
        XCTAssertNil(LESignalling.handle([0x13, 0x05, 0x02, 0x00, 0x00, 0x00], role: .central).reply)
        XCTAssertNil(LESignalling.handle([0x01, 0x05, 0x02, 0x00, 0x00, 0x00], role: .central).reply)
        let credit = LESignalling.handle([0x14, 0x06] + le16(10) + le16(0x80) + le16(0x40) + le16(23) + le16(23) + le16(1), role: .central)
        XCTAssertEqual(credit.reply?.suffix(2), [0x02, 0x00])
        let disconnect = LESignalling.handle([0x06, 0x07] + le16(4) + le16(0x40) + le16(0x41), role: .central)
        XCTAssertEqual(disconnect.reply, [0x01, 0x07] + le16(6) + le16(0x0002) + le16(0x40) + le16(0x41))
    }
}

final class ATTBearerTests: XCTestCase {
    func testOneRequestAtATime() {
        var bearer = ATTBearer()
        XCTAssertEqual(bearer.submit([0x0A, 0x03, 0x00], ticket: 1), [.send([0x0A, 0x03, 0x00]), .startTimer(1)])
        XCTAssertEqual(bearer.submit([0x0A, 0x05, 0x00], ticket: 2), [])
        XCTAssertEqual(bearer.received([0x0B, 0x41]), [.finish(1, .success([0x0B, 0x41])), .send([0x0A, 0x05, 0x00]), .startTimer(2)])
        let actions = bearer.received([0x01, 0x0A, 0x05, 0x00, 0x0F])
        guard case .finish(2, .failure(let error)) = actions.first else { return XCTFail("no error") }
        XCTAssertEqual(error.kind, .att(code: 0x0F))
        XCTAssertTrue(error.needsSecurity)
        XCTAssertTrue(error.message.contains("insufficient encryption"), error.message)
    }

    func testIndicationsWaitForTheirConsumersConfirmationNotificationsPassedUp() {
        var bearer = ATTBearer()
        XCTAssertEqual(bearer.received([0x1D, 0x10, 0x00, 0x06, 0x78]),
                       [.value(handle: 0x10, bytes: [0x06, 0x78], indicated: true), .startConfirmationTimer(1)])
        XCTAssertEqual(bearer.received([0x1B, 0x10, 0x00, 0x16, 0x48]), [.value(handle: 0x10, bytes: [0x16, 0x48], indicated: false)])
        XCTAssertEqual(bearer.received([0x23] + le16(0x10) + le16(1) + [0x01] + le16(0x12) + le16(2) + [0x02, 0x03]),
                       [.value(handle: 0x10, bytes: [1], indicated: false), .value(handle: 0x12, bytes: [2, 3], indicated: false)])
        // A second indication before the first is confirmed breaks the peer's rule: dropped, counted.
        XCTAssertEqual(bearer.received([0x1D, 0x10, 0x00, 0x07]), [])
        XCTAssertEqual(bearer.protocolErrors, 1)
        XCTAssertEqual(bearer.confirmIndication(), [.send([0x1E])])
        XCTAssertEqual(bearer.confirmIndication(), [], "confirmed once")
        XCTAssertEqual(bearer.confirmationTimedOut(1), [], "a confirmed indication's timer changes nothing")
        // An indication arriving while a request is outstanding waits for its consumer too.
        _ = bearer.submit([0x0A, 0x03, 0x00], ticket: 1)
        XCTAssertEqual(bearer.received([0x1D, 0x10, 0x00]), [.value(handle: 0x10, bytes: [], indicated: true), .startConfirmationTimer(2)])
        XCTAssertEqual(bearer.confirmIndication(), [.send([0x1E])])
    }

    func testAnIndicationLeftUnconfirmedForTheTransactionTimeoutKillsTheBearer() {
        var bearer = ATTBearer()
        _ = bearer.received([0x1D, 0x10, 0x00, 0x06])
        _ = bearer.submit([0x0A, 0x03, 0x00], ticket: 1)
        let actions = bearer.confirmationTimedOut(1)
        XCTAssertEqual(actions.count, 2)
        guard case .finish(1, .failure) = actions.first, case .fail(let error) = actions.last else { return XCTFail("\(actions)") }
        XCTAssertEqual(error.kind, .timeout)
        XCTAssertEqual(bearer.confirmIndication(), [], "too late: no confirmation on a dead bearer")
    }

    func testUnmatchedResponsesAreCountedAndIgnored() {
        var bearer = ATTBearer()
        XCTAssertEqual(bearer.received([0x0B, 0x01]), [])
        _ = bearer.submit([0x0A, 0x03, 0x00], ticket: 1)
        XCTAssertEqual(bearer.received([0x13]), [])
        XCTAssertEqual(bearer.protocolErrors, 2)
    }

    func testTransactionTimeoutKillsTheBearer() {
        var bearer = ATTBearer()
        _ = bearer.submit([0x0A, 0x03, 0x00], ticket: 1)
        _ = bearer.submit([0x0A, 0x05, 0x00], ticket: 2)
        let actions = bearer.timedOut(1)
        XCTAssertEqual(actions.count, 3)
        guard case .fail(let error) = actions.last else { return XCTFail("the bearer did not fail") }
        XCTAssertEqual(error.kind, .timeout)
        guard case .finish(3, .failure) = bearer.submit([0x0A, 0x03, 0x00], ticket: 3).first else { return XCTFail("a dead bearer took a request") }
    }

    func testPeerRequestsAreAlwaysAnswered() {
        var bearer = ATTBearer(server: ATTServer(deviceName: "gw"))
        XCTAssertEqual(bearer.received([0x02] + le16(100)), [.send([0x03] + le16(247))])
        XCTAssertEqual(bearer.mtu, 100)
        XCTAssertEqual(bearer.received([0x0A] + le16(3)), [.send([0x0B] + Array("gw".utf8))])
        XCTAssertEqual(bearer.received([0x20, 0x01, 0x00, 0x03, 0x00]), [.send([0x01, 0x20, 0x00, 0x00, 0x06])])
        XCTAssertEqual(bearer.received([0x12] + le16(3) + [0x41]), [.send([0x01, 0x12, 0x03, 0x00, 0x03])])
        XCTAssertEqual(bearer.received([0x52] + le16(3) + [0x41]), [])
        XCTAssertEqual(bearer.received([0x1E]), [])
    }
}

final class ATTServerTests: XCTestCase {
    let server = ATTServer(deviceName: "fhir-edge", appearance: 0x0080)

    func testPrimaryServiceDiscoveryOfTheLocalDatabase() throws {
        let reply = server.respond(to: [0x10] + le16(1) + le16(0xFFFF) + le16(0x2800), mtu: 23)
        let services = try GATTDiscoveryParsing.services(reply)
        XCTAssertEqual(services.map(\.uuid), [BluetoothUUID(uuid16: 0x1800), BluetoothUUID(uuid16: 0x1801)])
        XCTAssertEqual(services.map(\.endHandle), [5, 6])
        XCTAssertEqual(server.respond(to: [0x10] + le16(7) + le16(0xFFFF) + le16(0x2800), mtu: 23), [0x01, 0x10, 0x07, 0x00, 0x0A])
    }

    func testCharacteristicsAndDeviceNameByType() throws {
        let reply = server.respond(to: [0x08] + le16(1) + le16(5) + le16(0x2803), mtu: 23)
        XCTAssertEqual(try GATTDiscoveryParsing.characteristics(reply).map(\.valueHandle), [3, 5])
        XCTAssertEqual(server.respond(to: [0x08] + le16(1) + le16(0xFFFF) + le16(0x2A00), mtu: 23), [0x09, 11, 0x03, 0x00] + Array("fhir-edge".utf8))
        XCTAssertEqual(server.respond(to: [0x04] + le16(5) + le16(6), mtu: 23), [0x05, 0x01] + le16(5) + le16(0x2A01) + le16(6) + le16(0x2800))
        XCTAssertEqual(server.respond(to: [0x06] + le16(1) + le16(0xFFFF) + le16(0x2800) + le16(0x1801), mtu: 23), [0x07] + le16(6) + le16(6))
    }

    func testInvalidRequestsGetErrors() {
        XCTAssertEqual(server.respond(to: [0x0A] + le16(0x99), mtu: 23), [0x01, 0x0A, 0x99, 0x00, 0x01])
        XCTAssertEqual(server.respond(to: [0x10] + le16(0) + le16(5) + le16(0x2800), mtu: 23), [0x01, 0x10, 0x00, 0x00, 0x01])
        XCTAssertEqual(server.respond(to: [0x10] + le16(1) + le16(5) + le16(0x2801), mtu: 23), [0x01, 0x10, 0x01, 0x00, 0x10])
        XCTAssertEqual(server.respond(to: [0x0C] + le16(3) + le16(40), mtu: 23), [0x01, 0x0C, 0x03, 0x00, 0x07])
        XCTAssertEqual(server.respond(to: [0x02], mtu: 23), [0x01, 0x02, 0x00, 0x00, 0x04])
    }
}

final class AddressingTests: XCTestCase {
    func testAddressTextAndWireOrder() throws {
        let address = try XCTUnwrap(BluetoothAddress("F0:00:00:00:18:0D", type: .random))
        XCTAssertEqual(address.littleEndianBytes, [0x0D, 0x18, 0x00, 0x00, 0x00, 0xF0])
        XCTAssertEqual(BluetoothAddress(littleEndian: address.littleEndianBytes, type: .random), address)
        XCTAssertEqual(address.description, "F0:00:00:00:18:0D")
        XCTAssertTrue(address.isRandomStatic)
        XCTAssertNil(BluetoothAddress("F0:00:00:00:18"))
        XCTAssertNil(BluetoothAddress("G0:00:00:00:18:0D"))
        XCTAssertTrue(address.sameDevice(as: BluetoothAddress(value: address.value, type: .randomIdentity)))
        XCTAssertFalse(address.sameDevice(as: BluetoothAddress(value: address.value, type: .public)))
    }

    /// The device id of messages (the PHD IG's eui-48/bluetooth identifier value) is one spelling
    /// for every way a configuration may write the address.
    func testEUI48IdentifierIsUpperCaseWithDashes() throws {
        for written in ["F0:00:00:00:18:0D", "f0:00:00:00:18:0d", "F0-00-00-00-18-0D", "f0-00-00-00-18-0d"] {
            XCTAssertEqual(try XCTUnwrap(BluetoothAddress(written)).eui48, "F0-00-00-00-18-0D", written)
        }
        XCTAssertEqual(BluetoothAddress(value: 0x00BE_EF00_0001, type: .public).eui48, "00-BE-EF-00-00-01", "leading zero octets kept")
    }

    func testTransportAddresses() throws {
        XCTAssertEqual(try TransportAddress(parsing: "tcp:127.0.0.1:9000"), .tcp(host: "127.0.0.1", port: 9000))
        XCTAssertEqual(try TransportAddress(parsing: "uart:/dev/ttyUSB0"), .uart(path: "/dev/ttyUSB0", baudRate: 115_200, flowControl: true))
        XCTAssertEqual(try TransportAddress(parsing: "uart:/dev/ttyAMA0:1000000:noflow"), .uart(path: "/dev/ttyAMA0", baudRate: 1_000_000, flowControl: false))
        XCTAssertEqual(try TransportAddress(parsing: "hci:0"), .userChannel(adapter: 0))
        for bad in ["tcp:9000", "uart:ttyUSB0", "uart:/dev/ttyUSB0:12345", "hci:x", "usb:0", "tcp:host:0"] {
            XCTAssertThrowsError(try TransportAddress(parsing: bad), bad)
        }
    }

    func testUserChannelErrorsSayWhatToDo() {
        XCTAssertTrue(TransportAddress.userChannelError(adapter: 0, errno: EAFNOSUPPORT).message.contains("no Bluetooth in this kernel"))
        XCTAssertTrue(TransportAddress.userChannelError(adapter: 1, errno: EBUSY).message.contains("hciconfig hci1 down"))
        XCTAssertTrue(TransportAddress.userChannelError(adapter: 0, errno: EPERM).message.contains("CAP_NET_ADMIN"))
    }

    func testUserChannelOnThisKernel() async {
        // This machine's kernel has no Bluetooth: the open must fail with the clear message.
        do {
            let transport = try await TransportAddress.userChannel(adapter: 0).open()
            transport.close()
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .transport)
            XCTAssertTrue(error.message.hasPrefix("hci:0: cannot open the HCI user channel"), error.message)
        } catch {
            XCTFail("\(error)")
        }
    }
}
