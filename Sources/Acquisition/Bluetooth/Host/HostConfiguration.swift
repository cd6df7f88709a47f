/// How the host runs: its name in the local GATT server, timeouts, and whether a security
/// manager handles SMP (otherwise pairing requests are refused as not supported).
package struct HostConfiguration: Sendable {
    /// Device Name of the local GAP service (peers may read it).
    package var deviceName = "fhir-edge"
    /// How long an HCI command may wait for its Command Complete / Status.
    package var commandTimeout: Duration = .seconds(5)
    /// The ATT transaction timeout (the specification's 30 s).
    package var attributeTimeout: Duration = .seconds(30)
    /// How long a link may wait for Disconnection Complete after the controller took the
    /// Disconnect command; then the host counts the link as gone (a controller that stopped
    /// answering must not hold a session or shutdown). The LL itself gives up within the
    /// supervision timeout (at most 32 s; 5 s with the host's connection parameters).
    package var disconnectTimeout: Duration = .seconds(6)
    /// A security manager consumes `SecurityChannel` events; when false the host answers Pairing
    /// Request and Security Request with Pairing Failed (Pairing Not Supported).
    package var handlesSecurity = false
    /// Seed of the random static address used when the controller has no public address.
    package var addressSeed: UInt64 = 0x5EED_0000_0000_B1E5
    /// Buffer of a connection's event stream; values beyond it are dropped and counted.
    package var eventBuffer = 4096

    package init() {}
}

/// What the controller said about itself during setup.
package struct ControllerInfo: Sendable, Equatable {
    /// The address links are made with (the public address, or the random static one set).
    package var address: BluetoothAddress
    /// Extended scanning/initiating commands are used (else the legacy ones), chosen once.
    package var usesExtendedCommands: Bool
    /// LE ACL buffer size and count (host-to-controller fragments and credits).
    package var aclBufferLength: Int
    package var aclBuffers: Int
    /// LE Data Length Extension (feature bit 5): links ask for 251-octet LL payloads.
    package var supportsDataLengthExtension: Bool
    package var hciVersion: UInt8
    package var manufacturer: UInt16
}

/// Counters of what the host dropped or rejected, for health reporting and tests.
package struct HostStatistics: Sendable, Equatable {
    package var malformedEvents = 0
    package var droppedACLFragments = 0
    package var attributeProtocolErrors = 0
    package var droppedValues = 0
    /// Indications whose consumer never confirmed them within the ATT transaction timeout (the
    /// link was ended; the peer keeps the value).
    package var unconfirmedIndications = 0
    package var rejectedSignallingRequests = 0
    package var refusedPairingRequests = 0
    package var hardwareErrors = 0
    /// Links counted as gone after the controller took Disconnect but never completed it.
    package var unansweredDisconnects = 0
    package var transport = TransportStatistics()

    package init() {}
}
