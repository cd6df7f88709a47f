import BluetoothDecoding
import EdgeCore
import Foundation
import TestSupport
import XCTest

@testable import Bluetooth

/// A controller that stops answering mid-connect, mid-discovery, mid-pairing and mid-disconnect:
/// every wait of the host ends on the host's clock (a `ManualClock` here, so 30 s timeouts pass at
/// once), with a timeout error that says what was not answered, and shutdown ends too. A wait
/// with no timeout leaves nothing on the clock while the operation is still pending, and
/// `finishOnClock` fails the test then.
final class SilentControllerTests: XCTestCase {
    let peer = BluetoothAddress("F0:00:00:00:18:0D", type: .random)!
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func startedHost(_ controller: ScriptedController, _ clock: ManualClock, handlesSecurity: Bool = false) async throws -> BluetoothHost {
        var configuration = HostConfiguration()
        configuration.handlesSecurity = handlesSecurity
        let host = BluetoothHost(transport: controller, configuration: configuration, clock: clock)
        _ = try await host.start()
        return host
    }

    /// A host with one link to `peer`, made while the controller still answered.
    private func connected(_ controller: ScriptedController, _ clock: ManualClock, handlesSecurity: Bool = false) async throws
        -> (BluetoothHost, GATTConnection)
    {
        let host = try await startedHost(controller, clock, handlesSecurity: handlesSecurity)
        let peer = self.peer
        let connection = Task { try await host.connect(to: peer, timeout: .seconds(5)) }
        for _ in 0..<400 where !controller.sentOpcodes.contains(0x2043) { try await Task.sleep(for: .milliseconds(5)) }
        XCTAssertTrue(controller.sentOpcodes.contains(0x2043), "no LE Extended Create Connection")
        controller.inject(.event(code: 0x3E, parameters: [0x01, 0x00] + le16(0x0040) + [0x00, 0x01] + peer.littleEndianBytes + le16(24) + le16(0) + le16(500) + [0]))
        return (host, try await connection.value)
    }

    /// Runs `operation`, moving `clock` to its next deadline whenever the operation still waits
    /// and something sleeps on the clock. Fails when the operation waits while nothing is on the
    /// clock (a wait without a timeout) or when the clock passes `limit`.
    private func finishOnClock<T: Sendable>(
        _ clock: ManualClock, limit: Duration, _ what: String, file: StaticString = #filePath, line: UInt = #line,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let done = Locked(false)
        let task = Task {
            defer { done.withLock { $0 = true } }
            return try await operation()
        }
        var idle = 0
        while !done.withLock({ $0 }) {
            // A few quiet polls first, so whatever the controller did answer is handled before time moves.
            if idle >= 10, clock.sleeperCount > 0 {
                if let next = clock.earliestDeadline, next > limit {
                    XCTFail("\(what): still waiting when the clock reached \(limit)", file: file, line: line)
                    task.cancel()
                    break
                }
                clock.advanceToNextDeadline()
                idle = 0
                continue
            }
            if idle > 2_000 {
                XCTFail("\(what): waits on something no timeout ends (nothing sleeps on the clock)", file: file, line: line)
                task.cancel()
                break
            }
            idle += 1
            try await Task.sleep(for: .milliseconds(1))
        }
        return try await task.value
    }

    private func timeoutError(_ error: any Error, file: StaticString = #filePath, line: UInt = #line) -> String {
        guard let error = error as? BluetoothError else {
            XCTFail("not a Bluetooth error: \(error)", file: file, line: line)
            return ""
        }
        XCTAssertEqual(error.kind, .timeout, error.message, file: file, line: line)
        return error.message
    }

    // MARK: connect

    func testSilentOnCreateConnectionTheConnectTimesOutAndTheNextAttemptIsNotBlocked() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let host = try await startedHost(controller, clock)
        controller.goSilent()
        let peer = self.peer
        for attempt in 1...2 {
            let outcome: Result<GATTConnection, any Error> = try await finishOnClock(clock, limit: .seconds(60 * attempt), "connect \(attempt)") {
                do { return .success(try await host.connect(to: peer, timeout: .seconds(10))) } catch { return .failure(error) }
            }
            guard case .failure(let error) = outcome else { return XCTFail("connected to a silent controller") }
            XCTAssertTrue(timeoutError(error).contains("LE Extended Create Connection"), "\(error)")
        }
        _ = try await finishOnClock(clock, limit: .seconds(180), "close") { await host.close() }
    }

    func testAConnectionThatIsNeverCompletedNorCancelledEndsWithAClearError() async throws {
        // Command Status for the create, then nothing: no LE Connection Complete, no answer to the cancel.
        let controller = ScriptedController()
        controller.stayingSilent(on: 0x200E)
        let clock = ManualClock()
        let host = try await startedHost(controller, clock)
        let peer = self.peer
        let outcome: Result<GATTConnection, any Error> = try await finishOnClock(clock, limit: .seconds(60), "connect") {
            do { return .success(try await host.connect(to: peer, timeout: .seconds(10))) } catch { return .failure(error) }
        }
        guard case .failure(let error) = outcome else { return XCTFail("connected without LE Connection Complete") }
        XCTAssertTrue(timeoutError(error).contains("did not complete the cancelled connection attempt"), "\(error)")
        XCTAssertTrue(controller.sentOpcodes.contains(0x200E), "the attempt was cancelled first")
        XCTAssertLessThanOrEqual(clock.now.offset, .seconds(20), "connect timeout, then the cancel's command timeout, then as long again")
        _ = try await finishOnClock(clock, limit: .seconds(120), "close") { await host.close() }
    }

    // MARK: discovery

    func testSilentMidDiscoveryTheRequestTimesOutAndTheLinkCanStillBeEnded() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock)
        controller.goSilent()
        let outcome: Result<[GATTService], any Error> = try await finishOnClock(clock, limit: .seconds(60), "discovery") {
            do { return .success(try await connection.discoverPrimaryServices()) } catch { return .failure(error) }
        }
        guard case .failure(let error) = outcome else { return XCTFail("discovered services on a silent link") }
        XCTAssertTrue(timeoutError(error).contains("no response within the 30 s transaction timeout"), "\(error)")
        XCTAssertEqual(clock.now.offset, .seconds(30), "the ATT transaction timeout, on the host's clock")
        // After a transaction timeout the bearer takes no more requests: the next one fails at once.
        do {
            _ = try await connection.read(0x03)
            XCTFail("a request after the transaction timeout was sent")
        } catch let error as BluetoothError {
            XCTAssertNotEqual(error.kind, .timeout, error.message)
        }
        _ = try await finishOnClock(clock, limit: .seconds(120), "disconnect") { await connection.disconnect() }
        _ = try await finishOnClock(clock, limit: .seconds(180), "close") { await host.close() }
    }

    // MARK: pairing

    func testSilentMidPairingSecuringFailsWithTheSMPTimeout() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock, handlesSecurity: true)
        controller.goSilent()
        let security = LinkSecurity(channel: connection, bonds: BondStore(dataDirectory: directory), clock: clock)
        let events = Task { await security.run() }
        let outcome: Result<SecurityOutcome, PairingError> = try await finishOnClock(clock, limit: .seconds(60), "pairing") {
            do throws(PairingError) { return .success(try await security.secure()) } catch { return .failure(error) }
        }
        guard case .failure(let error) = outcome else { return XCTFail("paired with a silent controller") }
        XCTAssertEqual(error.kind, .timeout, error.message)
        XCTAssertTrue(error.message.contains("did not answer SMP"), error.message)
        XCTAssertEqual(clock.now.offset, .seconds(30), "the SMP timeout, on the host's clock")
        XCTAssertTrue(controller.sentACL.contains { $0.count > 4 && $0[2] == 0x06 && $0[4] == 0x01 }, "a Pairing Request was sent")
        _ = try await finishOnClock(clock, limit: .seconds(120), "disconnect") { await connection.disconnect() }
        _ = try await finishOnClock(clock, limit: .seconds(120), "the security events") { await events.value }
        _ = try await finishOnClock(clock, limit: .seconds(180), "close") { await host.close() }
    }

    func testEncryptionThatIsNeverReportedFailsWithTheSMPTimeout() async throws {
        // The controller takes LE Enable Encryption (Command Status) but never sends Encryption Change.
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock, handlesSecurity: true)
        let bonds = BondStore(dataDirectory: directory)
        let key = try XCTUnwrap(SecretKey(octets: Array(repeating: 0x5A, count: 16)))
        try await bonds.save(Bond(address: peer, longTermKey: key, pairedAtMilliseconds: 0))
        let security = LinkSecurity(channel: connection, bonds: bonds, clock: clock)
        let events = Task { await security.run() }
        let outcome: Result<SecurityOutcome, PairingError> = try await finishOnClock(clock, limit: .seconds(60), "re-encryption") {
            do throws(PairingError) { return .success(try await security.secure()) } catch { return .failure(error) }
        }
        guard case .failure(let error) = outcome else { return XCTFail("encrypted without Encryption Change") }
        XCTAssertEqual(error.kind, .timeout, error.message)
        XCTAssertTrue(controller.sentOpcodes.contains(0x2019), "LE Enable Encryption was sent")
        _ = try await finishOnClock(clock, limit: .seconds(120), "disconnect") { await connection.disconnect() }
        _ = try await finishOnClock(clock, limit: .seconds(120), "the security events") { await events.value }
        _ = try await finishOnClock(clock, limit: .seconds(180), "close") { await host.close() }
    }

    // MARK: disconnect

    func testADisconnectThatIsNeverCompletedEndsTheLinkAfterTheDisconnectTimeout() async throws {
        // Command Status for Disconnect, then no Disconnection Complete.
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock)
        _ = try await finishOnClock(clock, limit: .seconds(60), "disconnect") { await connection.disconnect() }
        XCTAssertEqual(clock.now.offset, HostConfiguration().disconnectTimeout)
        var last: ConnectionEvent?
        for await event in connection.events { last = event }
        XCTAssertEqual(last, .disconnected(reason: 0x16), "the link counts as ended by the host")
        let statistics = await host.statistics
        XCTAssertEqual(statistics.unansweredDisconnects, 1)
        do {
            _ = try await connection.read(0x03)
            XCTFail("the link is still usable")
        } catch let error as BluetoothError {
            XCTAssertEqual(error.kind, .disconnected(reason: 0x02), error.message)
        }
        _ = try await finishOnClock(clock, limit: .seconds(120), "close") { await host.close() }
    }

    func testSilentOnDisconnectTheCommandTimesOutAndTheLinkEnds() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock)
        controller.goSilent()
        _ = try await finishOnClock(clock, limit: .seconds(60), "disconnect") { await connection.disconnect() }
        XCTAssertEqual(clock.now.offset, HostConfiguration().commandTimeout)
        _ = try await finishOnClock(clock, limit: .seconds(120), "close") { await host.close() }
    }

    func testAfterADisconnectCompletesInTimeTheTimerDoesNotEndALaterLinkOnTheSameHandle() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, first) = try await connected(controller, clock)
        let ended = Task { await first.disconnect() }
        for _ in 0..<400 where !controller.sentOpcodes.contains(0x0406) { try await Task.sleep(for: .milliseconds(5)) }
        controller.inject(.event(code: 0x05, parameters: [0x00] + le16(0x0040) + [0x16]))
        await ended.value
        let peer = self.peer
        let second = Task { try await host.connect(to: peer, timeout: .seconds(5)) }
        for _ in 0..<400 where controller.sentOpcodes.filter({ $0 == 0x2043 }).count < 2 { try await Task.sleep(for: .milliseconds(5)) }
        controller.inject(.event(code: 0x3E, parameters: [0x01, 0x00] + le16(0x0040) + [0x00, 0x01] + peer.littleEndianBytes + le16(24) + le16(0) + le16(500) + [0]))
        let link = try await second.value
        // Past the first link's disconnect timeout: the new link on handle 0x40 stands.
        let sleeping = clock.sleeperCount
        for _ in 0..<sleeping { clock.advanceToNextDeadline() }
        try await Task.sleep(for: .milliseconds(20))
        let statistics = await host.statistics
        XCTAssertEqual(statistics.unansweredDisconnects, 0)
        let sentBefore = controller.sentACL.count
        let read = Task { try await link.read(0x03) }
        for _ in 0..<400 where controller.sentACL.count == sentBefore { try await Task.sleep(for: .milliseconds(5)) }
        controller.injectL2CAP(handle: 0x40, channel: 4, [0x0B, 0x2A])
        let value = try await read.value
        XCTAssertEqual(value.last, 0x2A)
        _ = try await finishOnClock(clock, limit: clock.now.offset + .seconds(120), "close") { await host.close() }
    }

    // MARK: sessions and shutdown

    func testASessionOnASilentControllerReportsClearFailuresKeepsTryingAndStops() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let host = try await startedHost(controller, clock)
        let sightings = AdvertSightings()
        await sightings.record(ScanReport(address: peer, rssi: -50, connectable: true, isScanResponse: false, data: []),
                               at: Timestamp(millisecondsSinceEpoch: 0))
        controller.goSilent()
        let failures = Locked<[SessionFailure]>([])
        let link = HostDeviceLink(host: host, address: peer, sightings: sightings, bonds: BondStore(dataDirectory: directory), pairing: .standard)
        let session = DeviceSession(
            settings: DeviceSessionSettings(address: peer, connectTimeout: .seconds(10)), link: link, seed: 1,
            now: { Timestamp(millisecondsSinceEpoch: 0) }, sleep: { try await clock.sleep(for: $0) },
            deliver: { _ in }, observe: { observation in
                if case .failure(let failure) = observation { failures.withLock { $0.append(failure) } }
            })
        let running = Task { await session.run() }
        // Three failed attempts, each ended by a timeout on the clock, then shutdown.
        _ = try await finishOnClock(clock, limit: .seconds(600), "three connection attempts") {
            while failures.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(1)) }
        }
        let seen = failures.withLock { $0 }
        XCTAssertTrue(seen.allSatisfy { $0.stage == .connect && $0.message.contains("no Command Complete or Command Status") }, "\(seen)")
        running.cancel()
        _ = try await finishOnClock(clock, limit: clock.now.offset + .seconds(120), "session shutdown") { await running.value }
        _ = try await finishOnClock(clock, limit: clock.now.offset + .seconds(120), "close") { await host.close() }
    }

    func testClosingAHostWithALinkOnASilentControllerEnds() async throws {
        let controller = ScriptedController()
        let clock = ManualClock()
        let (host, connection) = try await connected(controller, clock)
        controller.goSilent()
        _ = try await finishOnClock(clock, limit: .seconds(60), "close") { await host.close() }
        var last: ConnectionEvent?
        for await event in connection.events { last = event }
        XCTAssertEqual(last, .disconnected(reason: 0x16))
        let failure = await host.failure
        XCTAssertNotNil(failure)
    }
}
