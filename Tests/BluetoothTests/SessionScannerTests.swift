import Bluetooth
import BluetoothDecoding
import EdgeCore
import Foundation
import JSONQuery
import Logging
import Store
import TestSupport
import XCTest

@testable import Gateway

/// The gateway's scan consumer: BTHome adverts of listed sensors become one inbox message per
/// distinct advert (encrypted ones with the configured bind key), listed devices get RSSI and
/// last seen in their health, everything else is ignored.
final class SessionScannerTests: XCTestCase {
    struct Chain: JournalChain {
        func hash(of entry: JournalEntry, previous: String?) -> String { (previous ?? "") + "." }
    }

    static let rigAdvert = hex("020106" + "0b09526967204254486f6d65" + "0e16d2fc40000101610266080394" + "11")
    /// bthome-ble's encrypted sample (../shared/conformance/ble bthome-encrypted): 25.06 °C, 50.55 %.
    static let encryptedServiceData = hex("41a47266c95f730011223378237214")

    /// An advert carrying only `serviceData` for 0xFCD2.
    static func bthomeAdvert(_ serviceData: [UInt8]) -> [UInt8] {
        [0x02, 0x01, 0x06, UInt8(serviceData.count + 3), 0x16, 0xD2, 0xFC] + serviceData
    }

    func testBTHomeAdvertsBecomeOneMessagePerDistinctAdvertAndListedDevicesGetRSSI() async throws {
        let directory = try temporaryDirectory("ble-scanner")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock: @Sendable () -> Timestamp = { Timestamp(secondsSinceEpoch: 1_800_000_000) }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: Chain(), now: clock)
        defer { try? store.close() }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let health = AcquisitionHealth(store: store, logger: logger)
        let sink = IntakeSink(store: store, monitor: GatewayMonitor(startedAt: clock()), profileLoaded: { _ in true }, onCommitted: {}, now: clock, logger: logger)
        let configuration = GatewayConfiguration.Bluetooth(
            transport: .tcp(host: "127.0.0.1", port: 9000),
            devices: [.init(address: "F0:00:00:00:18:0D", profile: "ble-heart-rate")],
            bthome: [
                .init(address: "F0:00:00:00:FC:D2", patientID: "room-12"),
                .init(address: "54:48:E6:8F:80:A5", bindKey: hex("231d39c1d7cc1ab1aee224cd096db932")),
                .init(address: "54:48:E6:8F:80:A6"),
            ])
        let sightings = AdvertSightings()
        let scanner = BluetoothScanner(configuration: configuration, sightings: sightings, sink: sink, health: health, now: clock, logger: logger)
        let rig = BluetoothAddress("F0:00:00:00:FC:D2")!
        let strap = BluetoothAddress("F0:00:00:00:18:0D")!
        let (reports, continuation) = AsyncStream.makeStream(of: ScanReport.self)
        for _ in 0..<5 { continuation.yield(ScanReport(address: rig, rssi: -60, connectable: false, isScanResponse: false, data: Self.rigAdvert)) }
        continuation.yield(ScanReport(address: strap, rssi: -55, connectable: true, isScanResponse: false, data: [0x02, 0x01, 0x06]))
        continuation.yield(ScanReport(
            address: BluetoothAddress("54:48:E6:8F:80:A5", type: .public)!, rssi: -70, connectable: false, isScanResponse: false,
            data: Self.bthomeAdvert(Self.encryptedServiceData)))
        // Encrypted, but no key configured: an error on that sensor, no message.
        continuation.yield(ScanReport(
            address: BluetoothAddress("54:48:E6:8F:80:A6", type: .public)!, rssi: -71, connectable: false, isScanResponse: false,
            data: Self.bthomeAdvert(Self.encryptedServiceData)))
        // Not listed: ignored.
        continuation.yield(ScanReport(
            address: BluetoothAddress("11:22:33:44:55:66")!, rssi: -40, connectable: false, isScanResponse: false, data: Self.rigAdvert))
        continuation.finish()
        await scanner.consume(reports)

        let inbox = try await store.claimInbox(limit: 100)
        XCTAssertEqual(inbox.count, 2, "one message for five identical adverts, one for the encrypted sensor")
        let messages = try inbox.map { try JSONValue(parsing: $0.message.payload) }
        let room = try XCTUnwrap(inbox.first { $0.message.deviceID == "F0-00-00-00-FC-D2" })
        XCTAssertEqual(room.message.profile, ProfileID("ble-bthome"))
        XCTAssertEqual(room.message.transport, .ble)
        XCTAssertEqual(room.message.sourceID, "ble:F0:00:00:00:FC:D2")
        let roomMessage = try JSONValue(parsing: room.message.payload)
        XCTAssertEqual(roomMessage["patientId"]?.stringValue, "room-12")
        XCTAssertTrue(messages.contains { "\($0)".contains("25.06") }, "the encrypted advert decoded with its key: \(messages)")

        let sensor = await health.device(transport: .ble, device: "F0:00:00:00:FC:D2")
        XCTAssertEqual(sensor?.readings, 1)
        XCTAssertEqual(sensor?.details["rssi"], .int(-60))
        let locked = await health.device(transport: .ble, device: "54:48:E6:8F:80:A6")
        XCTAssertEqual(locked?.up, false)
        XCTAssertTrue(locked?.lastError?.contains("encrypted") == true, "\(String(describing: locked?.lastError))")
        let listed = await health.device(transport: .ble, device: "F0:00:00:00:18:0D")
        XCTAssertEqual(listed?.details["rssi"], .int(-55))
        XCTAssertNotNil(listed?.details["lastSeen"])
        let seen = await sightings.sighting(of: strap)
        XCTAssertEqual(seen?.connectable, true)
        let unlisted = await health.device(transport: .ble, device: "11:22:33:44:55:66")
        XCTAssertNil(unlisted)
    }

    func testABondTheDaemonKeepsIsJournaledWithoutItsKey() async throws {
        let directory = try temporaryDirectory("ble-bonded")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock: @Sendable () -> Timestamp = { Timestamp(secondsSinceEpoch: 1_800_000_000) }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: Chain(), now: clock)
        defer { try? store.close() }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let health = AcquisitionHealth(store: store, logger: logger)
        let sink = IntakeSink(store: store, monitor: GatewayMonitor(startedAt: clock()), profileLoaded: { _ in true }, onCommitted: {}, now: clock, logger: logger)
        let journaled = Locked<[JournalEvent]>([])
        let reporter = BluetoothDeviceReporter(
            address: "F0:00:00:00:18:10", profile: ProfileID("ble-blood-pressure"), patientID: "p-17", sink: sink, health: health,
            journal: { events in journaled.withLock { $0 += events } }, now: clock, logger: logger)
        let key = try XCTUnwrap(SecretKey(octets: Array(repeating: 0x5A, count: 16)))
        await reporter.bonded(Bond(address: BluetoothAddress("F0:00:00:00:18:10")!, longTermKey: key, pairedAtMilliseconds: 0), replacedLostBond: true)
        let events = journaled.withLock { $0 }
        XCTAssertEqual(events.map(\.kind.rawValue), ["bluetooth.bonded"])
        XCTAssertEqual(events.first?.subjects, [.device("F0:00:00:00:18:10")])
        XCTAssertEqual(events.first?.details["replacedLostBond"], .bool(true))
        let text = JSONWriter().string(.object(events.first?.details ?? [:]))
        XCTAssertFalse(text.lowercased().contains("5a5a5a"), "a key in the journal: \(text)")
    }
}
