/// How the host runs: its name in the local GATT server, timeouts, and whether a security
/// manager handles SMP (otherwise pairing requests are refused as not supported).
public struct HostConfiguration: Sendable {
    /// Device Name of the local GAP service (peers may read it).
    public var deviceName = "fhir-edge"
    /// How long an HCI command may wait for its Command Complete / Status.
    public var commandTimeout: Duration = .seconds(5)
    /// The ATT transaction timeout (the specification's 30 s).
    public var attributeTimeout: Duration = .seconds(30)
    /// How long a link may wait for Disconnection Complete after the controller took the
    /// Disconnect command; then the host counts the link as gone (a controller that stopped
    /// answering must not hold a session or shutdown). The LL itself gives up within the
    /// supervision timeout (at most 32 s; 5 s with the host's connection parameters).
    public var disconnectTimeout: Duration = .seconds(6)
    /// A security manager consumes `SecurityChannel` events; when false the host answers Pairing
    /// Request and Security Request with Pairing Failed (Pairing Not Supported).
    public var handlesSecurity = false
    /// Seed of the random static address used when the controller has no public address.
    public var addressSeed: UInt64 = 0x5EED_0000_0000_B1E5
    /// Buffer of a connection's event stream; values beyond it are dropped and counted.
    public var eventBuffer = 4096

    public init() {}
}

/// What the controller said about itself during setup.
public struct ControllerInfo: Sendable, Equatable {
    /// The address links are made with (the public address, or the random static one set).
    public var address: BluetoothAddress
    /// Extended scanning/initiating commands are used (else the legacy ones), chosen once.
    public var usesExtendedCommands: Bool
    /// LE ACL buffer size and count (host-to-controller fragments and credits).
    public var aclBufferLength: Int
    public var aclBuffers: Int
    /// LE Data Length Extension (feature bit 5): links ask for 251-octet LL payloads.
    public var supportsDataLengthExtension: Bool
    public var hciVersion: UInt8
    public var manufacturer: UInt16
}

/// Counters of what the host dropped or rejected, for health reporting and tests.
public struct HostStatistics: Sendable, Equatable {
    public var malformedEvents = 0
    public var droppedACLFragments = 0
    public var attributeProtocolErrors = 0
    public var droppedValues = 0
    /// Indications whose consumer never confirmed them within the ATT transaction timeout (the
    /// link was ended; the peer keeps the value).
    public var unconfirmedIndications = 0
    public var rejectedSignallingRequests = 0
    public var refusedPairingRequests = 0
    public var hardwareErrors = 0
    /// Links counted as gone after the controller took Disconnect but never completed it.
    public var unansweredDisconnects = 0
    public var transport = TransportStatistics()

    public init() {}
}
