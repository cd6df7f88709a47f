import Foundation
import Modbus
import TestSupport
import XCTest

/// `LibmodbusLink` against real Modbus servers: the project's own pymodbus peer (runs on a fresh
/// clone) over TCP and RTU, and ../shared/modbus-rig with its documented tick values and faults.
final class ModbusLinkTests: XCTestCase {
    private var peers: [ModbusPeer] = []

    override func tearDown() {
        for peer in peers { peer.stop() }
        peers = []
        super.tearDown()
    }

    private func start(_ kind: ModbusPeer.Kind, _ transport: ModbusPeer.Transport, _ extra: [String] = []) throws -> ModbusPeer? {
        guard let peer = try ModbusPeer.start(kind, transport, extraArguments: extra) else { return nil }
        peers.append(peer)
        return peer
    }

    private func link(to peer: ModbusPeer, options: LibmodbusLink.Options = .init()) -> LibmodbusLink {
        switch peer.transport {
        case .tcp: LibmodbusLink(.tcp(host: peer.host, port: peer.port), options: options)
        case .rtu: LibmodbusLink(.rtu(ModbusSerialLine(device: peer.device, baud: peer.baud, parity: .even)), options: options)
        }
    }

    private func words(_ link: LibmodbusLink, unit: UInt8, _ table: ModbusTable, _ address: UInt16, _ count: UInt16,
                       timeout: Duration = .seconds(2)) async throws -> [UInt16] {
        let reply = try await link.read(ModbusReadRequest(unit: unit, table: table, address: address, count: count), timeout: timeout)
        guard case .registers(let words) = reply else { throw ModbusPeer.Failure("expected registers, got \(reply)") }
        return words
    }

    private func bits(_ link: LibmodbusLink, unit: UInt8, _ table: ModbusTable, _ address: UInt16, _ count: UInt16) async throws -> [Bool] {
        let reply = try await link.read(ModbusReadRequest(unit: unit, table: table, address: address, count: count), timeout: .seconds(2))
        guard case .bits(let bits) = reply else { throw ModbusPeer.Failure("expected bits, got \(reply)") }
        return bits
    }

    /// The error a read fails with (fails the test when it succeeds).
    private func failure(_ link: LibmodbusLink, unit: UInt8, _ table: ModbusTable, _ address: UInt16, _ count: UInt16,
                         timeout: Duration = .seconds(2), file: StaticString = #filePath, line: UInt = #line) async -> ModbusError? {
        do {
            let reply = try await link.read(ModbusReadRequest(unit: unit, table: table, address: address, count: count), timeout: timeout)
            XCTFail("expected a failure, got \(reply)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Own peer

    private func checkEveryTable(_ transport: ModbusPeer.Transport) async throws {
        guard let peer = try start(.own, transport) else { return }
        let link = link(to: peer)
        // Holding 0 is the unit's tick (reads decoded before this one); then uint16, int16, scaled int16.
        let holding = try await words(link, unit: 1, .holding, 0, 4)
        XCTAssertEqual(holding, [0, 54321, UInt16(bitPattern: -1234), 215])
        do { let got = try await words(link, unit: 1, .input, 1, 3); XCTAssertEqual(got, [1001, 1002, 1003]) }
        do { let got = try await words(link, unit: 1, .holding, 14, 8); XCTAssertEqual(got, [0x47F1, 0x2000, 0xF147, 0x0020, 0x2000, 0x47F1, 0x0020, 0xF147]) }
        do { let got = try await bits(link, unit: 1, .coil, 0, 7); XCTAssertEqual(got, [true, false, false, true, false, false, true]) }
        do { let got = try await bits(link, unit: 1, .discrete, 0, 4); XCTAssertEqual(got, [false, true, false, true]) }
        do { let got = try await words(link, unit: 1, .holding, 0, 1); XCTAssertEqual(got, [5], "five reads of unit 1 so far") }
        await link.close()
        // Closed links open again on the next read.
        do { let got = try await words(link, unit: 2, .holding, 0, 3); XCTAssertEqual(got, [0, 1, 2]) }
    }

    func testEveryTableOverTCP() async throws { try await checkEveryTable(.tcp) }

    func testEveryTableOverRTUOnAPtyPair() async throws { try await checkEveryTable(.rtu) }

    func testExceptionsAreReportedByNameAndLeaveTheLinkUsable() async throws {
        guard let peer = try start(.own, .tcp) else { return }
        let link = link(to: peer)
        let expected: [(UInt8, ModbusTable, UInt16, ModbusException)] = [
            (1, .holding, 5, .illegalDataAddress), (1, .holding, 60, .illegalDataAddress),
            (2, .holding, 30, .serverDeviceFailure), (2, .holding, 31, .serverDeviceBusy), (2, .coil, 0, .illegalFunction),
        ]
        for (unit, table, address, exception) in expected {
            let error = await failure(link, unit: unit, table, address, 1)
            XCTAssertEqual(error?.kind, .exception(exception), "unit \(unit) \(table) \(address)")
            XCTAssertTrue(error?.message.contains(exception.description) ?? false, error?.message ?? "")
            XCTAssertTrue(error?.message.contains("tcp 127.0.0.1:\(peer.port)") ?? false, error?.message ?? "")
        }
        do { let got = try await words(link, unit: 2, .holding, 7, 2); XCTAssertEqual(got, [7, 8]) }
        try peer.fault("exception 6 unit=1 count=1")
        let busy = await failure(link, unit: 1, .input, 1, 1)
        XCTAssertEqual(busy?.kind, .exception(.serverDeviceBusy))
        do { let got = try await words(link, unit: 1, .input, 1, 1); XCTAssertEqual(got, [1001]) }
    }

    func testSilentUnitTimesOutWithinItsTimeoutAndOthersStillAnswer() async throws {
        guard let peer = try start(.own, .tcp) else { return }
        let link = link(to: peer)
        let clock = ContinuousClock()
        let started = clock.now
        let error = await failure(link, unit: 4, .holding, 0, 1, timeout: .milliseconds(300))
        let elapsed = started.duration(to: clock.now)
        XCTAssertEqual(error?.kind, .timeout)
        XCTAssertTrue(error?.message.contains("timeout") ?? false, error?.message ?? "")
        XCTAssertLessThan(elapsed, .seconds(3), "a timeout must be bounded")
        do { let got = try await words(link, unit: 1, .input, 5, 2); XCTAssertEqual(got, [1005, 1006]) }
    }

    func testInvalidRequestsNeverReachTheWire() async throws {
        // Nothing listens on this endpoint: an invalid request must fail before connecting.
        let link = LibmodbusLink(.tcp(host: "127.0.0.1", port: 9))
        let tooMany = await failure(link, unit: 1, .holding, 0, 126)
        XCTAssertEqual(tooMany?.kind, .invalidRequest)
        let tooManyBits = await failure(link, unit: 1, .coil, 0, 2001)
        XCTAssertEqual(tooManyBits?.kind, .invalidRequest)
        let pastTheEnd = await failure(link, unit: 1, .input, 65530, 10)
        XCTAssertEqual(pastTheEnd?.kind, .invalidRequest)
        let none = await failure(link, unit: 1, .input, 0, 0)
        XCTAssertEqual(none?.kind, .invalidRequest)
        let refused = await failure(link, unit: 1, .input, 0, 1)
        XCTAssertEqual(refused?.kind, .connection)
        let serial = LibmodbusLink(.rtu(ModbusSerialLine(device: "/dev/null-modbus-missing", baud: 19200)))
        let unit248 = await failure(serial, unit: 248, .holding, 0, 1)
        XCTAssertEqual(unit248?.kind, .invalidRequest)
        let missing = await failure(serial, unit: 1, .holding, 0, 1)
        XCTAssertEqual(missing?.kind, .connection)
        let oddBaud = LibmodbusLink(.rtu(ModbusSerialLine(device: "/dev/ttyS0", baud: 12345)))
        let baud = await failure(oddBaud, unit: 1, .holding, 0, 1)
        XCTAssertEqual(baud?.kind, .invalidRequest)
    }

    /// A reply delayed past the timeout arrives while the next request waits for its own: the
    /// next read must return its own addresses' values (input a = 1000 + a), never the late ones.
    private func checkLateReplyNeverShifts(_ transport: ModbusPeer.Transport) async throws {
        guard let peer = try start(.own, transport) else { return }
        let link = link(to: peer)
        do { let got = try await words(link, unit: 1, .input, 1, 2); XCTAssertEqual(got, [1001, 1002]) }
        // The link waits one more timeout before the next RTU request: the reply comes 0.1 s after
        // the timeout, 0.2 s before the wait ends (room for a loaded machine).
        try peer.fault("delay 0.4 unit=1 count=1")
        let late = await failure(link, unit: 1, .input, 10, 2, timeout: .milliseconds(300))
        XCTAssertEqual(late?.kind, .timeout)
        for address: UInt16 in [20, 30, 40] {
            do { let got = try await words(link, unit: 1, .input, address, 2); XCTAssertEqual(got, [1000 + address, 1001 + address]) }
        }
        // Late replies over several timeouts in a row.
        try peer.fault("delay 0.4 unit=1 count=2")
        for address: UInt16 in [50, 60] {
            let error = await failure(link, unit: 1, .input, address, 2, timeout: .milliseconds(300))
            XCTAssertEqual(error?.kind, .timeout)
        }
        do { let got = try await words(link, unit: 1, .input, 70, 3); XCTAssertEqual(got, [1070, 1071, 1072]) }
        let counters = await link.counters()
        if transport == .tcp {
            XCTAssertEqual(counters.reconnects, 3)
            XCTAssertEqual(counters.connects, 4)
        } else {
            XCTAssertEqual(counters.resyncs, 3)
            XCTAssertEqual(counters.connects, 1)
        }
    }

    func testLateReplyAfterATimeoutNeverShiftsValuesOverTCP() async throws { try await checkLateReplyNeverShifts(.tcp) }

    func testLateReplyAfterATimeoutNeverShiftsValuesOverRTU() async throws { try await checkLateReplyNeverShifts(.rtu) }

    /// On a shared RTU line a silent unit costs its neighbours at most its own timeout, and a late
    /// reply from another unit may fail a neighbour's read as a bad reply but never hands it values.
    func testSilentOrLateUnitOnAnRTULineNeverHoldsUpOrShiftsItsNeighbours() async throws {
        guard let peer = try start(.own, .rtu) else { return }
        let link = link(to: peer)
        let clock = ContinuousClock()
        let silent = await failure(link, unit: 4, .holding, 0, 1, timeout: .milliseconds(400))
        XCTAssertEqual(silent?.kind, .timeout)
        let started = clock.now
        do { let got = try await words(link, unit: 1, .input, 9, 1); XCTAssertEqual(got, [1009]) }
        XCTAssertLessThan(started.duration(to: clock.now), .milliseconds(200), "the neighbour waited for the silent unit")
        // Unit 2's reply comes 0.2 s after its timeout, while unit 1 is being read.
        try peer.fault("delay 0.5 unit=2 count=1")
        let late = await failure(link, unit: 2, .holding, 3, 2, timeout: .milliseconds(300))
        XCTAssertEqual(late?.kind, .timeout)
        var answered = 0
        for round in 0..<8 {
            let address = UInt16(10 + round)
            do {
                let got = try await words(link, unit: 1, .input, address, 1, timeout: .milliseconds(300))
                XCTAssertEqual(got, [1000 + address], "unit 1 was handed another reply's values")
                answered += 1
            } catch let error as ModbusError {
                XCTAssertEqual(error.kind, .badReply, error.message)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertGreaterThanOrEqual(answered, 6)
        // Unit 2 itself waited out its late reply and reads its own values.
        do { let got = try await words(link, unit: 2, .holding, 5, 2); XCTAssertEqual(got, [5, 6]) }
    }

    func testReconnectsAfterTheServerRestarts() async throws {
        guard let peer = try start(.own, .tcp) else { return }
        let link = link(to: peer)
        do { let got = try await words(link, unit: 1, .holding, 0, 1); XCTAssertEqual(got, [0]) }
        do { let got = try await words(link, unit: 1, .holding, 0, 1); XCTAssertEqual(got, [1]) }
        try peer.restart(down: 0.3)
        // The idle connection died with the old server; the link connects anew by itself.
        do { let got = try await words(link, unit: 1, .holding, 0, 1); XCTAssertEqual(got, [0], "ticks restart with the server") }
        // While the server is down reads fail as connection errors, and recover afterwards.
        try peer.control("restart down=1.5 nowait")
        try await Task.sleep(for: .milliseconds(300))
        let down = await failure(link, unit: 1, .holding, 0, 1, timeout: .milliseconds(300))
        XCTAssertEqual(down?.kind, .connection, down?.message ?? "")
        var recovered = false
        for _ in 0..<40 where !recovered {
            if (try? await words(link, unit: 1, .input, 3, 1, timeout: .milliseconds(300))) == [1003] { recovered = true }
            else { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(recovered, "the link never reconnected")
        let retries = await link.counters().retriesOnNewConnection
        XCTAssertEqual(retries, 2, "the first read after each restart found the idle connection closed")
    }

    func testInterRequestDelayIsKept() async throws {
        guard let peer = try start(.own, .tcp) else { return }
        let link = link(to: peer, options: .init(interRequestDelay: .milliseconds(150)))
        let clock = ContinuousClock()
        // Four requests hold three delays between them; timing from before the first counts
        // each delay whole (from after the first reply, the first delay has already begun).
        let started = clock.now
        for _ in 0..<4 { _ = try await words(link, unit: 1, .input, 1, 1) }
        XCTAssertGreaterThanOrEqual(started.duration(to: clock.now), .milliseconds(450))
    }

    func testLinksOnDifferentConnectionsNeverWaitForEachOther() async throws {
        guard let peer = try start(.own, .tcp) else { return }
        let silent = link(to: peer)
        let healthy = link(to: peer)
        let clock = ContinuousClock()
        let stalled = Task { () async -> ModbusError? in
            do throws(ModbusError) {
                _ = try await silent.read(ModbusReadRequest(unit: 4, table: .holding, address: 0, count: 1), timeout: .seconds(2))
                return nil as ModbusError?
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = clock.now
        for address: UInt16 in 1...5 { do { let got = try await words(healthy, unit: 1, .input, address, 1); XCTAssertEqual(got, [1000 + address]) } }
        XCTAssertLessThan(started.duration(to: clock.now), .seconds(1), "the healthy link waited for the silent one")
        let error = await stalled.value
        XCTAssertEqual(error?.kind, .timeout)
    }

    // MARK: - ../shared/modbus-rig (documented tick values, libmodbus-measured faults)

    func testRigValuesMatchTheDocumentedTicks() async throws {
        guard let rig = try start(.rig, .tcp) else { return }
        let link = link(to: rig)
        // Unit 2 at n = 0: the same float in all four orders, then o2_total (uint32 ABCD) at n = 1.
        do { let got = try await words(link, unit: 2, .holding, 120, 8); XCTAssertEqual(got, [0x47F1, 0x2000, 0xF147, 0x0020, 0x2000, 0x47F1, 0x0020, 0xF147]) }
        do { let got = try await words(link, unit: 2, .holding, 106, 2); XCTAssertEqual(got, [0x0000, 0xFFFD]) }
        // Unit 1 at n = 0: tick, temperature 200, humidity 450, co2 400, probe -200.
        do { let got = try await words(link, unit: 1, .input, 0, 5); XCTAssertEqual(got, [0, 200, 450, 400, UInt16(bitPattern: -200)]) }
        do { let got = try await bits(link, unit: 1, .discrete, 0, 3); XCTAssertEqual(got, [false, true, true], "n = 1: door open") }
        do { let got = try await bits(link, unit: 1, .coil, 0, 2); XCTAssertEqual(got, [true, false]) }
        // Unit 3: exceptions by name.
        let failed = await failure(link, unit: 3, .holding, 30, 1)
        XCTAssertEqual(failed?.kind, .exception(.serverDeviceFailure))
        _ = try await words(link, unit: 3, .holding, 0, 1)  // n = 1 used, so busy_probe is read at n = 2 ...
        let notBusy = try await words(link, unit: 3, .holding, 31, 1)
        XCTAssertEqual(notBusy, [2])
        let busy = await failure(link, unit: 3, .holding, 31, 1)  // ... and now at n = 3, odd: busy
        XCTAssertEqual(busy?.kind, .exception(.serverDeviceBusy))
        let noCoils = await failure(link, unit: 3, .coil, 0, 1)
        XCTAssertEqual(noCoils?.kind, .exception(.illegalFunction))
        let hole = await failure(link, unit: 3, .holding, 10, 1)
        XCTAssertEqual(hole?.kind, .exception(.illegalDataAddress))
        let silent = await failure(link, unit: 4, .holding, 0, 1, timeout: .milliseconds(300))
        XCTAssertEqual(silent?.kind, .timeout)
    }

    /// The rig's measured pitfall: o2_total (HR 106) times out at n = 0, its late reply arrives while
    /// air_total (HR 108) is read at n = 1. Without recovery RTU returned o2_total's words
    /// [0000,FFFA]; the link must return air_total at n = 1, [FFFF,0000].
    private func checkRigLateReply(_ transport: ModbusPeer.Transport) async throws {
        guard let rig = try start(.rig, transport) else { return }
        let link = link(to: rig)
        try rig.fault("delay 0.8 unit=2 count=1")
        let late = await failure(link, unit: 2, .holding, 106, 2, timeout: .milliseconds(500))
        XCTAssertEqual(late?.kind, .timeout)
        do { let got = try await words(link, unit: 2, .holding, 108, 2); XCTAssertEqual(got, [0xFFFF, 0x0000], "air_total at n = 1") }
        do { let got = try await words(link, unit: 2, .holding, 0, 1); XCTAssertEqual(got, [2]) }
        do { let got = try await words(link, unit: 2, .holding, 110, 2); XCTAssertEqual(got, [0xFFFE, 0x8AF4], "pressure_delta at n = 3: -95500") }
    }

    func testRigLateReplyNeverShiftsValuesOverTCP() async throws { try await checkRigLateReply(.tcp) }

    func testRigLateReplyNeverShiftsValuesOverRTU() async throws { try await checkRigLateReply(.rtu) }

    func testRigRestartAndDroppedConnections() async throws {
        guard let rig = try start(.rig, .tcp) else { return }
        let link = link(to: rig)
        do { let got = try await words(link, unit: 1, .input, 0, 1); XCTAssertEqual(got, [0]) }
        try rig.restart(down: 0.3)
        do { let got = try await words(link, unit: 1, .input, 0, 1); XCTAssertEqual(got, [0], "ticks reset with the restart") }
        // A request the server answers by closing the connection: one error, then in step again.
        try rig.fault("drop unit=1 count=2")
        let dropped = await failure(link, unit: 1, .input, 0, 1)
        XCTAssertEqual(dropped?.kind, .connection, dropped?.message ?? "")
        do { let got = try await words(link, unit: 1, .input, 0, 1); XCTAssertEqual(got, [3], "n = 1 and 2 went to the dropped requests") }
        // A CRC-free protocol fault: a reply with a wrong transaction id, then clean again.
        try rig.fault("badtid unit=1 count=1")
        let bad = await failure(link, unit: 1, .input, 0, 1)
        XCTAssertEqual(bad?.kind, .badReply, bad?.message ?? "")
        do { let got = try await words(link, unit: 1, .input, 0, 1); XCTAssertEqual(got, [5]) }
    }

    func testRigRTUCorruptReplies() async throws {
        guard let rig = try start(.rig, .rtu) else { return }
        let link = link(to: rig)
        try rig.fault("crc unit=1 count=1")
        let crc = await failure(link, unit: 1, .input, 0, 1)
        XCTAssertEqual(crc?.kind, .badReply, crc?.message ?? "")
        try rig.fault("badslave unit=1 count=1")
        let slave = await failure(link, unit: 1, .input, 0, 1)
        XCTAssertEqual(slave?.kind, .badReply, slave?.message ?? "")
        do { let got = try await words(link, unit: 1, .input, 0, 2); XCTAssertEqual(got, [2, 202]) }
    }
}
