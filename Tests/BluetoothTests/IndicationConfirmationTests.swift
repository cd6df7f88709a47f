import BluetoothDecoding
import EdgeCore
import XCTest

@testable import Bluetooth

/// An indication is confirmed to the device only after its value is durable: the host sends
/// Handle Value Confirmation when the consumer says so, the session says so after delivery, and
/// a refused delivery leaves the reading unconfirmed on the device.
final class IndicationConfirmationTests: XCTestCase {
    static let peer = BluetoothAddress("F0:00:00:00:18:10", type: .random)!
    static let handle: UInt16 = 0x0040
    static let confirmation = L2CAPChannel.frame(channel: L2CAPChannel.attribute, payload: [ATTOpcode.handleValueConfirmation])
    static let pressure: [UInt8] = [0x06, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0xE8, 0x07, 0x01, 0x0F, 0x08, 0x1E, 0x00, 0x48, 0x00]

    // MARK: Host

    func testTheHostConfirmsOnlyWhenTheConsumerDoes() async throws {
        let controller = ScriptedController()
        let (host, connection) = try await connected(controller)
        var events = connection.events.makeAsyncIterator()
        controller.injectL2CAP(handle: Self.handle, channel: L2CAPChannel.attribute, [ATTOpcode.handleValueIndication] + le16(0x10) + [0x06, 0x78])
        let event = await events.next()
        XCTAssertEqual(event, .indication(handle: 0x10, value: [0x06, 0x78]))
        // A request after the indication is answered in turn, and still no confirmation goes out.
        controller.injectL2CAP(handle: Self.handle, channel: L2CAPChannel.attribute, [ATTOpcode.exchangeMTURequest] + le16(100))
        try await waitUntil { controller.sentACL.contains(L2CAPChannel.frame(channel: L2CAPChannel.attribute, payload: [0x03] + le16(247))) }
        XCTAssertFalse(controller.sentACL.contains(Self.confirmation), "confirmed before the consumer did")

        await connection.confirmIndication()
        try await waitUntil { controller.sentACL.contains(Self.confirmation) }
        await connection.confirmIndication()
        XCTAssertEqual(controller.sentACL.filter { $0 == Self.confirmation }.count, 1, "one confirmation per indication")
        await host.close()
    }

    func testAnIndicationNobodyConfirmsEndsTheLinkAfterTheTransactionTimeout() async throws {
        let controller = ScriptedController()
        var configuration = HostConfiguration()
        configuration.attributeTimeout = .milliseconds(100)
        let (host, connection) = try await connected(controller, configuration: configuration)
        controller.injectL2CAP(handle: Self.handle, channel: L2CAPChannel.attribute, [ATTOpcode.handleValueIndication] + le16(0x10) + [0x06])
        try await waitUntil { controller.sentOpcodes.contains(0x0406) }
        await connection.confirmIndication()
        XCTAssertFalse(controller.sentACL.contains(Self.confirmation), "a confirmation after the timeout")
        let statistics = await host.statistics
        XCTAssertEqual(statistics.unconfirmedIndications, 1)
        await host.close()
    }

    // MARK: Session

    func testTheSessionConfirmsAfterDelivery() async throws {
        let link = ScriptedLink(measurements: [SessionActorTests.bp])
        let recorder = Recorder()
        let session = session(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let connection = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([SessionActorTests.bp])) }
        connection.send(.indication(handle: 16, value: Self.pressure))
        try await waitUntil { link.requests.contains("confirm") }
        XCTAssertEqual(link.requests.suffix(2), ["deliver", "confirm"])
        XCTAssertEqual(recorder.snapshot.readings.count, 1)
        // Notifications are never confirmed.
        connection.send(.notification(handle: 16, value: Self.pressure))
        try await recorder.waitFor { $0.readings.count == 2 }
        XCTAssertEqual(link.requests.filter { $0 == "confirm" }.count, 1)
    }

    func testARefusedDeliveryIsNeverConfirmedAndTheLinkCloses() async throws {
        let link = ScriptedLink(measurements: [SessionActorTests.bp])
        let recorder = Recorder(refusals: 1)
        let session = session(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let first = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([SessionActorTests.bp])) }
        first.send(.indication(handle: 16, value: Self.pressure))
        // The device sends the reading again on the next link; this time it is kept.
        let second = try await link.waitForConnection(2)
        try await recorder.waitFor { $0.observations.filter { $0 == .up([SessionActorTests.bp]) }.count == 2 }
        let beforeResend = link.requests
        XCTAssertEqual(Array(beforeResend.drop { $0 != "deliver" }.prefix(2)), ["deliver", "disconnect"])
        XCTAssertFalse(beforeResend.contains("confirm"), "a refused reading was confirmed: \(beforeResend)")
        second.send(.indication(handle: 16, value: Self.pressure))
        try await waitUntil { link.requests.contains("confirm") }
        XCTAssertEqual(link.requests.suffix(2), ["deliver", "confirm"])
        XCTAssertEqual(recorder.snapshot.readings.count, 1)
    }

    func testAnUndecodableIndicationIsConfirmedSoTheDeviceCanGoOn() async throws {
        let link = ScriptedLink(measurements: [SessionActorTests.bp])
        let recorder = Recorder()
        let session = session(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let connection = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([SessionActorTests.bp])) }
        connection.send(.indication(handle: 16, value: [0x06]))
        try await waitUntil { link.requests.contains("confirm") }
        XCTAssertFalse(link.requests.contains("deliver"))
        let stages: [SessionFailure.Stage] = recorder.snapshot.observations.compactMap { if case .failure(let f) = $0 { f.stage } else { nil } }
        XCTAssertEqual(stages, [.decode])
    }

    // MARK: Support

    private func session(link: ScriptedLink, recorder: Recorder) -> DeviceSession {
        DeviceSession(
            settings: DeviceSessionSettings(address: BluetoothAddress("F0:00:00:00:18:10")!, backoff: ReconnectBackoff(base: .seconds(1), cap: .seconds(30))),
            link: link, seed: 7, now: { Timestamp(secondsSinceEpoch: 1_700_000_000) },
            sleep: { delay in recorder.record(wait: delay) },
            deliver: { reading in
                link.log("deliver")
                try recorder.record(reading: reading)
            },
            observe: { observation in recorder.record(observation) })
    }

    private func connected(
        _ controller: ScriptedController, configuration: HostConfiguration = HostConfiguration()
    ) async throws -> (BluetoothHost, GATTConnection) {
        let host = BluetoothHost(transport: controller, configuration: configuration)
        _ = try await host.start()
        let peer = Self.peer
        let connection = Task { try await host.connect(to: peer, timeout: .seconds(5)) }
        try await waitUntil { controller.sentOpcodes.contains(0x2043) || controller.sentOpcodes.contains(0x200D) }
        controller.inject(.event(code: 0x3E, parameters: [0x01, 0x00] + le16(Self.handle) + [0x00, 0x01] + peer.littleEndianBytes + le16(24) + le16(0) + le16(500) + [0]))
        return (host, try await connection.value)
    }

    private func waitUntil(_ condition: @Sendable () -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
        for _ in 0..<400 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
        XCTAssertTrue(condition(), "condition not met within 2 s", file: file, line: line)
    }
}
