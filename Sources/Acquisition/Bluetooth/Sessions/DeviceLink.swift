package import BluetoothDecoding

/// What a device session needs from the host stack to reach one device. The host stack's
/// central implements it for production; tests drive a session with a scripted one.
package protocol DeviceLink: Sendable {
    /// Connects to the device (waiting at most `timeout`), or throws a `SessionFailure` of
    /// stage `connect`.
    func connect(timeout: Duration) async throws -> any DeviceConnection
}

/// One link to a device. Requests are served one at a time; each throws a `SessionFailure` (with
/// the ATT error code when the peer refused) and fails at once when the link goes down.
package protocol DeviceConnection: Sendable {
    /// Values of subscribed characteristics in arrival order, then `.disconnected`, then the end.
    /// An indication waits for `confirmIndication()`.
    var events: AsyncStream<ConnectionEvent> { get }
    /// Confirms the outstanding indication to the device, which may then delete the value: only
    /// once it is durable.
    func confirmIndication() async
    /// Every standard measurement characteristic of the device's services, with its CCCD.
    func discoverMeasurements() async throws -> [MeasurementCharacteristic]
    /// The readable strings of the device's Device Information Service (0x180A); nil when it
    /// serves none. A characteristic that cannot be read is left out, never an error.
    func readDeviceInformation() async -> DeviceInformation?
    /// The value of the device's Current Time characteristic (0x2A2B, Current Time Service
    /// 0x1805), undecoded; nil when it serves none or refuses the read.
    func readCurrentTime() async -> [UInt8]?
    /// Writes the characteristic's CCCD.
    func subscribe(_ characteristic: MeasurementCharacteristic) async throws
    /// Encrypts the link with the stored bond, or pairs (and bonds) when there is none.
    func secure() async throws
    /// Ends the link; `events` then reports `.disconnected` and finishes.
    func disconnect() async
    /// Runs for the life of the link, beside `events`: what the link must answer unasked (a
    /// device's Security Request).
    func serve() async
}

extension DeviceConnection {
    package func serve() async {}
    package func readDeviceInformation() async -> DeviceInformation? { nil }
    package func readCurrentTime() async -> [UInt8]? { nil }
}
