import BluetoothDecoding
import EdgeCore
import Foundation
import TestSupport
import XCTest

@testable import Bluetooth

/// A device that lost its bond, played by restarting the rig (it forgets bonds) with
/// `--require-pairing bp`: a device session without `repairWhenKeyMissing` stays down with an
/// error that says what to do; with it, the session pairs again, keeps the new bond and reads.
final class RepairRigTests: XCTestCase {
    static let cuff = BluetoothAddress("F0:00:00:00:18:10")!

    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("repair-rig-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testADeviceThatLostItsBondStaysDownUnlessRepairingIsAllowed() async throws {
        let bonds = BondStore(dataDirectory: directory)
        guard let first = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        let firstHost = try await host(first)
        let paired = try await run(on: firstHost, bonds: bonds, repair: false) { !$0.readings.isEmpty }
        await firstHost.close()
        first.stop()
        XCTAssertEqual(paired.bondsKept, [false], "a first bond replaces nothing")
        let original = try await bonds.bond(for: Self.cuff)

        // The cuff restarted and forgot the bond; the gateway still holds it.
        guard let rig = try BLERig.start(["--only", "bp", "--require-pairing", "bp"]) else { return }
        defer { rig.stop() }
        // One host for both sessions: the rig serves one gateway connection at a time.
        let host = try await host(rig)
        let refused = try await run(on: host, bonds: bonds, repair: false) { run in run.failures.contains { $0.stage == .secure } }
        let failure = try XCTUnwrap(refused.failures.first { $0.stage == .secure })
        XCTAssertTrue(failure.message.contains("fhir-edge ble pair F0:00:00:00:18:10 --forget"), failure.message)
        XCTAssertTrue(failure.message.contains("repairWhenKeyMissing"), failure.message)
        XCTAssertEqual(refused.readings.count, 0)
        XCTAssertEqual(refused.bondsKept, [])
        let kept = try await bonds.bond(for: Self.cuff)
        XCTAssertEqual(kept, original, "the stale bond stays until an operator or the policy replaces it")

        let repaired = try await run(on: host, bonds: bonds, repair: true) { !$0.readings.isEmpty }
        await host.close()
        XCTAssertEqual(repaired.bondsKept, [true], "the new bond replaced the lost one")
        XCTAssertEqual(repaired.readings.count, 1)
        let renewed = try await bonds.bond(for: Self.cuff)
        XCTAssertNotNil(renewed)
        XCTAssertNotEqual(renewed, original)
        XCTAssertNotNil(rig.waitForEvent(containing: ["indication_confirmed", "\"bp\""], timeout: 5))
    }

    final class RunRecorder: Sendable {
        private let run = Locked(Run())
        func withLock<T>(_ body: (inout Run) -> T) -> T { run.withLock { body(&$0) } }
    }

    struct Run: Sendable {
        var readings: [[String]] = []
        var failures: [SessionFailure] = []
        var bondsKept: [Bool] = []
    }

    private static func record(_ reports: AsyncStream<ScanReport>, into sightings: AdvertSightings) async {
        for await report in reports {
            guard report.address.value == cuff.value else { continue }
            await sightings.record(report, at: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)))
        }
    }

    private func host(_ rig: BLERig) async throws -> BluetoothHost {
        var configuration = HostConfiguration()
        configuration.handlesSecurity = true
        return try await BluetoothHost.open(try TransportAddress(parsing: rig.transport), configuration: configuration)
    }

    /// One session for the cuff (pairing required) until `done` holds (at most 20 s).
    private func run(on host: BluetoothHost, bonds: BondStore, repair: Bool, until done: @escaping @Sendable (Run) -> Bool) async throws -> Run {
        let reports = try await host.startScan(ScanOptions(active: false, filterDuplicates: false))
        let sightings = AdvertSightings()
        let state = RunRecorder()
        let session = DeviceSession(
            settings: DeviceSessionSettings(
                address: Self.cuff, requiresPairing: true, backoff: ReconnectBackoff(base: .milliseconds(100), cap: .milliseconds(200)),
                connectTimeout: .seconds(5)),
            link: HostDeviceLink(
                host: host, address: Self.cuff, sightings: sightings, bonds: bonds, pairing: PairingPolicy(repairWhenKeyMissing: repair),
                bondKept: { _, replaced in state.withLock { $0.bondsKept.append(replaced) } }),
            seed: 1, now: { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) },
            deliver: { reading in state.withLock { $0.readings.append(reading.reading.values.map(\.name)) } },
            observe: { observation in
                if case .failure(let failure) = observation { state.withLock { $0.failures.append(failure) } }
            })
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await Self.record(reports, into: sightings) }
            group.addTask { await session.run() }
            for _ in 0..<200 where !done(state.withLock { $0 }) {
                try? await Task.sleep(for: .milliseconds(100))
            }
            // Cancelling ends the session (it disconnects) and the scan's reports.
            group.cancelAll()
        }
        try? await host.stopScan()
        let result = state.withLock { $0 }
        XCTAssertTrue(done(result), "condition not met within 20 s: \(result.failures)")
        return result
    }
}

/// A device that answers re-encryption with a lost key by dropping the link (MIC failure):
/// there is no link left to pair on, so with `repairWhenKeyMissing` the stale bond is dropped
/// and the next link pairs; without it the bond stays and the error says what to do.
final class LostBondMICFailureTests: XCTestCase {
    struct DroppingChannel: SecurityChannel {
        let link = LinkInfo(handle: 0x40, role: .central, peer: PairingStateMachineTests.cuff, local: PairingStateMachineTests.gateway)
        let securityEvents: AsyncStream<SecurityEvent>
        let continuation: AsyncStream<SecurityEvent>.Continuation

        init() { (securityEvents, continuation) = AsyncStream.makeStream() }

        func sendSecurityPDU(_ pdu: [UInt8]) async throws {}

        func startEncryption(longTermKey: [UInt8], encryptedDiversifier: UInt16, randomNumber: UInt64) async throws {
            continuation.yield(.disconnected(reason: 0x3D))
            continuation.finish()
        }
    }

    func testTheStaleBondIsDroppedOnlyWhenRepairingIsAllowed() async throws {
        for repair in [false, true] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mic-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let bonds = BondStore(dataDirectory: directory)
            let key = try XCTUnwrap(SecretKey(octets: Array(repeating: 0x5A, count: 16)))
            try await bonds.save(Bond(address: PairingStateMachineTests.cuff, longTermKey: key, pairedAtMilliseconds: 0))
            let channel = DroppingChannel()
            let security = LinkSecurity(channel: channel, bonds: bonds, policy: PairingPolicy(repairWhenKeyMissing: repair))
            let events = Task { await security.run() }
            do {
                _ = try await security.secure()
                XCTFail("secured a link that dropped")
            } catch {
                XCTAssertEqual(error.kind, .keyMissing, error.message)
            }
            await events.value
            let kept = try await bonds.bond(for: PairingStateMachineTests.cuff)
            XCTAssertEqual(kept == nil, repair, "repair \(repair): bond \(String(describing: kept))")
        }
    }
}
