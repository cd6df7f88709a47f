import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

@testable import Bluetooth

/// The device session actor against a scripted link: what it asks the stack, what it delivers,
/// what it reports, with reconnect waits recorded instead of slept.
final class SessionActorTests: XCTestCase {
    static let hr = MeasurementCharacteristic(.heartRateMeasurement, valueHandle: 16, configurationHandle: 17, indicates: false)
    static let bp = MeasurementCharacteristic(.bloodPressureMeasurement, valueHandle: 16, configurationHandle: 17, indicates: true)
    static let address = BluetoothAddress("F0:00:00:00:18:0D")!
    static let rigPressure: [UInt8] = [0x06, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0xE8, 0x07, 0x01, 0x0F, 0x08, 0x1E, 0x00, 0x48, 0x00]

    /// The Device Information Service is read once per link, after discovery and before the
    /// subscriptions, and every reading of that link carries it into its message.
    func testReadingsCarryTheDeviceInformationReadOnConnect() async throws {
        var information = DeviceInformation()
        information.record(uuid16: 0x2A29, value: Array("BLE Rig".utf8))
        information.record(uuid16: 0x2A25, value: Array("HR-0001".utf8))
        let link = ScriptedLink(measurements: [Self.hr], deviceInformation: information)
        let recorder = Recorder()
        let (connection, task) = try await runUntilUp(link, [Self.hr], recorder: recorder)
        defer { task.cancel() }
        connection.send(.notification(handle: 16, value: [0x16, 72, 0x55, 0x03]))
        try await recorder.waitFor { $0.readings.count == 1 }
        XCTAssertEqual(link.requests, ["connect", "discover", "device information", "subscribe heartRateMeasurement@16"])
        let reading = try XCTUnwrap(recorder.snapshot.readings.first)
        XCTAssertEqual(reading.device, information)
        XCTAssertEqual(reading.message["device"], ["manufacturerName": "BLE Rig", "serialNumber": "HR-0001"])
    }

    /// The session clock's 2023-11-14T22:13:20Z as a Current Time value, moved by `seconds`.
    static func currentTime(offsetBy seconds: Int64) -> [UInt8] {
        let c = Timestamp(secondsSinceEpoch: 1_700_000_000 + seconds).components
        return [UInt8(c.year & 0xFF), UInt8(c.year >> 8), UInt8(c.month), UInt8(c.day), UInt8(c.hour), UInt8(c.minute), UInt8(c.second), 0, 0, 0]
    }

    /// The blood pressure reading the device timed 2024-01-15T08:30:00, delivered on a link to a
    /// device serving that Current Time.
    func deliverRigPressure(currentTime: [UInt8]?) async throws -> (reading: DeviceReading, link: ScriptedLink, recorder: Recorder) {
        let link = ScriptedLink(measurements: [Self.bp], currentTime: currentTime)
        let recorder = Recorder()
        let (connection, task) = try await runUntilUp(link, [Self.bp], recorder: recorder)
        defer { task.cancel() }
        connection.send(.indication(handle: 16, value: Self.rigPressure))
        try await recorder.waitFor { $0.readings.count == 1 }
        return (try XCTUnwrap(recorder.snapshot.readings.first), link, recorder)
    }

    /// A device clock two hours behind the gateway's: the delivered reading's time is the device's
    /// plus two hours, the device's own time and the offset stay in the message.
    func testAReadingOfADeviceClockTwoHoursBehindIsCorrectedByTheOffset() async throws {
        let (reading, link, _) = try await deliverRigPressure(currentTime: Self.currentTime(offsetBy: -7200))
        XCTAssertEqual(link.requests.prefix(3), ["connect", "discover", "current time"], "read on connect, before the subscriptions")
        XCTAssertEqual(reading.clock?.offsetSeconds, -7200)
        let message = reading.message
        XCTAssertEqual(message["time"], "2024-01-15T10:30:00.000Z")
        XCTAssertEqual(message["deviceTime"], "2024-01-15T08:30:00")
        XCTAssertEqual(message["timeSource"], "device")
        XCTAssertEqual(message["clock"], ["offsetSeconds": -7200, "toleranceSeconds": 60, "checkedAt": "2023-11-14T22:13:20.000Z", "status": "off"])
    }

    func testADeviceClockWithinTheToleranceLeavesTheTimeAsTheDeviceSaid() async throws {
        let (reading, _, _) = try await deliverRigPressure(currentTime: Self.currentTime(offsetBy: 30))
        let message = reading.message
        XCTAssertEqual(message["time"], "2024-01-15T08:30:00.000Z")
        XCTAssertEqual(message["clock"]?["offsetSeconds"], 30)
        XCTAssertEqual(message["clock"]?["status"], "synchronised")
    }

    func testADeviceWithoutTheCurrentTimeServiceIsTimedAsBefore() async throws {
        let (reading, link, _) = try await deliverRigPressure(currentTime: nil)
        XCTAssertFalse(link.requests.contains("current time"))
        XCTAssertNil(reading.clock)
        XCTAssertEqual(reading.message["time"], "2024-01-15T08:30:00.000Z")
        XCTAssertNil(reading.message["clock"])
    }

    func testACurrentTimeThatDoesNotDecodeIsReportedAndTheReadingIsNotCorrected() async throws {
        let (reading, _, recorder) = try await deliverRigPressure(currentTime: [0xE8, 0x07, 13, 1])
        XCTAssertNil(reading.clock)
        XCTAssertEqual(reading.message["time"], "2024-01-15T08:30:00.000Z")
        XCTAssertTrue(recorder.snapshot.observations.contains { if case .failure(let failure) = $0 { failure.stage == .decode } else { false } })
    }

    func testDeliversEachDecodedValueInOrderAndReportsUp() async throws {
        let link = ScriptedLink(measurements: [Self.hr])
        let recorder = Recorder()
        let (connection, task) = try await runUntilUp(link, [Self.hr], recorder: recorder)
        defer { task.cancel() }
        for bpm: UInt8 in [72, 75, 78] { connection.send(.notification(handle: 16, value: [0x16, bpm, 0x55, 0x03])) }
        try await recorder.waitFor { $0.readings.count == 3 }
        let values = recorder.snapshot.readings.compactMap { $0.reading.value(named: "heartRate")?.value.doubleValue }
        XCTAssertEqual(values, [72, 75, 78])
        let message = recorder.snapshot.readings[0].message
        guard case .object(let object) = message else { return XCTFail("\(message)") }
        XCTAssertEqual(object["deviceId"], .string("F0-00-00-00-18-0D"), "the PHD IG's EUI-48 form")
        XCTAssertEqual(object["characteristic"], .string("heartRateMeasurement"))
        XCTAssertEqual(link.requests, ["connect", "discover", "subscribe heartRateMeasurement@16"])
    }

    func testAValueThatDoesNotDecodeIsReportedAndTheSessionCarriesOn() async throws {
        let link = ScriptedLink(measurements: [Self.hr])
        let recorder = Recorder()
        let (connection, task) = try await runUntilUp(link, [Self.hr], recorder: recorder)
        defer { task.cancel() }
        connection.send(.notification(handle: 16, value: [0x17]))
        connection.send(.notification(handle: 99, value: [0x16, 72]))
        connection.send(.notification(handle: 16, value: [0x16, 72]))
        try await recorder.waitFor { $0.readings.count == 1 }
        let failures = recorder.snapshot.observations.compactMap { if case .failure(let f) = $0 { f } else { nil } }
        XCTAssertEqual(failures.map(\.stage), [.decode])
        XCTAssertTrue(failures[0].message.contains("Heart Rate Measurement"), failures[0].message)
        XCTAssertEqual(link.connections, 1, "a bad value does not cost the link")
    }

    func testReconnectsAfterTheDeviceDisconnectsAndResubscribes() async throws {
        let link = ScriptedLink(measurements: [Self.hr])
        let recorder = Recorder()
        let session = makeSession(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let first = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([Self.hr])) }
        first.send(.disconnected(reason: 0x08))
        let second = try await link.waitForConnection(2)
        try await recorder.waitFor { $0.observations.filter { $0 == .up([Self.hr]) }.count == 2 }
        // A value of the old link that arrives late is not taken.
        first.send(.notification(handle: 16, value: [0x16, 60]))
        second.send(.notification(handle: 16, value: [0x16, 61]))
        try await recorder.waitFor { $0.readings.count == 1 }
        XCTAssertEqual(recorder.snapshot.readings[0].reading.value(named: "heartRate")?.value.doubleValue, 61)
        XCTAssertTrue(recorder.snapshot.observations.contains(.disconnected(reason: 0x08)))
        XCTAssertEqual(recorder.snapshot.waits.count, 1)
        XCTAssertLessThanOrEqual(recorder.snapshot.waits[0], .seconds(1))
    }

    func testConnectFailuresWaitLongerEachTime() async throws {
        let link = ScriptedLink(measurements: [Self.hr], failingConnects: 3)
        let recorder = Recorder()
        let session = makeSession(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        _ = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([Self.hr])) }
        let waits = recorder.snapshot.waits
        XCTAssertEqual(waits.count, 3)
        let ceilings: [Duration] = [.seconds(1), .seconds(2), .seconds(4)]
        for (wait, ceiling) in zip(waits, ceilings) { XCTAssertTrue(wait >= ceiling / 2 && wait <= ceiling, "\(wait)") }
        let failures = recorder.snapshot.observations.filter { if case .failure = $0 { true } else { false } }
        XCTAssertEqual(failures.count, 3)
    }

    func testARefusalForEncryptionSecuresTheLinkThenSubscribes() async throws {
        let link = ScriptedLink(measurements: [Self.bp], refuseUntilSecured: true)
        let recorder = Recorder()
        let session = makeSession(link: link, recorder: recorder, address: BluetoothAddress("F0:00:00:00:18:10")!)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let connection = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([Self.bp])) }
        XCTAssertEqual(link.requests, [
            "connect", "discover", "subscribe bloodPressureMeasurement@16", "secure", "subscribe bloodPressureMeasurement@16",
        ])
        connection.send(.indication(handle: 16, value: Self.rigPressure))
        try await recorder.waitFor { $0.readings.count == 1 }
        XCTAssertEqual(recorder.snapshot.readings[0].reading.value(named: "systolic")?.value.doubleValue, 120)
    }

    func testADeliveryFailureClosesTheLinkAndTheSessionComesBack() async throws {
        let link = ScriptedLink(measurements: [Self.hr])
        let recorder = Recorder(refusals: 1)
        let session = makeSession(link: link, recorder: recorder)
        let task = Task { await session.run() }
        defer { task.cancel() }
        let first = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([Self.hr])) }
        first.send(.notification(handle: 16, value: [0x16, 72]))
        let second = try await link.waitForConnection(2)
        try await recorder.waitFor { $0.observations.filter { $0 == .up([Self.hr]) }.count == 2 }
        second.send(.notification(handle: 16, value: [0x16, 73]))
        try await recorder.waitFor { $0.readings.count == 1 }
        let failures = recorder.snapshot.observations.compactMap { if case .failure(let f) = $0 { f } else { nil } }
        XCTAssertEqual(failures.map(\.stage), [.deliver])
        XCTAssertTrue(link.requests.contains("disconnect"))
    }

    func testCancellationClosesTheLink() async throws {
        let link = ScriptedLink(measurements: [Self.hr])
        let recorder = Recorder()
        let session = makeSession(link: link, recorder: recorder)
        let task = Task { await session.run() }
        _ = try await link.waitForConnection(1)
        try await recorder.waitFor { $0.observations.contains(.up([Self.hr])) }
        task.cancel()
        await task.value
        XCTAssertEqual(link.requests.last, "disconnect")
        let state = await session.state
        XCTAssertEqual(state, .stopped)
    }

    /// Runs a session on `link` until its first connection reports the device up with
    /// `characteristics` subscribed; the caller cancels the task.
    func runUntilUp(
        _ link: ScriptedLink, _ characteristics: [MeasurementCharacteristic], recorder: Recorder
    ) async throws -> (connection: ScriptedConnection, task: Task<Void, Never>) {
        let session = makeSession(link: link, recorder: recorder)
        let task = Task { await session.run() }
        do {
            let connection = try await link.waitForConnection(1)
            try await recorder.waitFor { $0.observations.contains(.up(characteristics)) }
            return (connection, task)
        } catch {
            task.cancel()
            throw error
        }
    }

    func makeSession(link: ScriptedLink, recorder: Recorder, address: BluetoothAddress = address) -> DeviceSession {
        DeviceSession(
            settings: DeviceSessionSettings(address: address, backoff: ReconnectBackoff(base: .seconds(1), cap: .seconds(30))),
            link: link, seed: 42, now: { Timestamp(secondsSinceEpoch: 1_700_000_000) },
            sleep: { delay in recorder.record(wait: delay) },
            deliver: { reading in try recorder.record(reading: reading) },
            observe: { observation in recorder.record(observation) })
    }
}

/// Collects what a session delivered and reported; can refuse deliveries like a full store.
final class Recorder: Sendable {
    struct Snapshot: Sendable {
        var readings: [DeviceReading] = []
        var observations: [SessionObservation] = []
        var waits: [Duration] = []
        var refusals: Int
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String { "store refused the reading (high-water mark)" }
    }

    private let state: Locked<Snapshot>

    init(refusals: Int = 0) {
        state = Locked(Snapshot(refusals: refusals))
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    func record(reading: DeviceReading) throws {
        try state.withLock { state in
            if state.refusals > 0 {
                state.refusals -= 1
                throw Refused()
            }
            state.readings.append(reading)
        }
    }

    func record(_ observation: SessionObservation) { state.withLock { $0.observations.append(observation) } }
    func record(wait: Duration) { state.withLock { $0.waits.append(wait) } }

    /// Polls until `condition` holds (at most 5 s).
    func waitFor(_ condition: (Snapshot) -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
        for _ in 0..<500 {
            if condition(snapshot) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("condition not met within 5 s; observations: \(snapshot.observations)", file: file, line: line)
        throw CancellationError()
    }
}

/// A device link that answers from a script and lets the test push events into a connection.
final class ScriptedLink: DeviceLink {
    struct State {
        var requests: [String] = []
        var connections: [ScriptedConnection] = []
        var failingConnects: Int
        var secured = false
    }

    let measurements: [MeasurementCharacteristic]
    let refuseUntilSecured: Bool
    /// What the device's Device Information Service answers; nil: it has none.
    let deviceInformation: DeviceInformation?
    /// What the device's Current Time characteristic answers; nil: it serves no Current Time Service.
    let currentTime: [UInt8]?
    private let state: Locked<State>

    init(
        measurements: [MeasurementCharacteristic], failingConnects: Int = 0, refuseUntilSecured: Bool = false,
        deviceInformation: DeviceInformation? = nil, currentTime: [UInt8]? = nil
    ) {
        self.measurements = measurements
        self.refuseUntilSecured = refuseUntilSecured
        self.deviceInformation = deviceInformation
        self.currentTime = currentTime
        self.state = Locked(State(failingConnects: failingConnects))
    }

    var requests: [String] { state.withLock { $0.requests } }
    var connections: Int { state.withLock { $0.connections.count } }

    func log(_ request: String) { state.withLock { $0.requests.append(request) } }

    func connect(timeout: Duration) async throws -> any DeviceConnection {
        log("connect")
        let connection = ScriptedConnection(link: self)
        try state.withLock { state in
            if state.failingConnects > 0 {
                state.failingConnects -= 1
                throw SessionFailure(.connect, "no connection within \(timeout)")
            }
            state.secured = false
            state.connections.append(connection)
        }
        return connection
    }

    func secure() { state.withLock { $0.secured = true } }
    var secured: Bool { state.withLock { $0.secured } }

    func waitForConnection(_ count: Int) async throws -> ScriptedConnection {
        for _ in 0..<500 {
            if let connection = state.withLock({ $0.connections.count >= count ? $0.connections[count - 1] : nil }) { return connection }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("no connection #\(count) within 5 s; requests: \(requests)")
        throw CancellationError()
    }
}

final class ScriptedConnection: DeviceConnection {
    let events: AsyncStream<ConnectionEvent>
    private let continuation: AsyncStream<ConnectionEvent>.Continuation
    private let link: ScriptedLink

    init(link: ScriptedLink) {
        self.link = link
        (events, continuation) = AsyncStream.makeStream()
    }

    func send(_ event: ConnectionEvent) {
        continuation.yield(event)
        if case .disconnected = event { continuation.finish() }
    }

    func discoverMeasurements() async throws -> [MeasurementCharacteristic] {
        link.log("discover")
        return link.measurements
    }

    func readDeviceInformation() async -> DeviceInformation? {
        guard let information = link.deviceInformation else { return nil }
        link.log("device information")
        return information
    }

    func readCurrentTime() async -> [UInt8]? {
        guard let value = link.currentTime else { return nil }
        link.log("current time")
        return value
    }

    func subscribe(_ characteristic: MeasurementCharacteristic) async throws {
        link.log("subscribe \(characteristic)")
        if link.refuseUntilSecured, !link.secured {
            throw SessionFailure(.subscribe, "ATT error 0x0F insufficient encryption", attError: 0x0F)
        }
    }

    func secure() async throws {
        link.log("secure")
        link.secure()
    }

    func confirmIndication() async {
        link.log("confirm")
    }

    func disconnect() async {
        link.log("disconnect")
        send(.disconnected(reason: 0x16))
    }
}
