/// Which end of the link the local controller is.
package enum LinkRole: UInt8, Sendable, Hashable {
    case central = 0x00
    case peripheral = 0x01
}

/// One LE link as the security manager needs to know it: the handle, our role, and both
/// addresses. `local` is the address the link was made with: the identity address to distribute
/// in SMP Identity Address Information, so a bonded reconnection finds its keys.
package struct LinkInfo: Sendable, Hashable {
    package var handle: UInt16
    package var role: LinkRole
    package var peer: BluetoothAddress
    package var local: BluetoothAddress

    package init(handle: UInt16, role: LinkRole, peer: BluetoothAddress, local: BluetoothAddress) {
        self.handle = handle
        self.role = role
        self.peer = peer
        self.local = local
    }
}

/// What the security manager receives on one link, in arrival order.
package enum SecurityEvent: Sendable, Equatable {
    /// An SMP PDU from the peer on fixed channel 0x0006 (code octet first).
    case smp([UInt8])
    /// HCI Encryption Change: `status` 0 and `enabled` mean the link is encrypted now.
    case encryptionChanged(status: UInt8, enabled: Bool)
    /// HCI Encryption Key Refresh Complete.
    case keyRefreshed(status: UInt8)
    /// The link is gone (HCI reason); the stream finishes after this event.
    case disconnected(reason: UInt8)
}

/// The seam between a connection and the security manager (SMP, pairing, bonding). The
/// connection hands over the SMP PDUs and encryption events of its link; the manager answers
/// with SMP PDUs and starts encryption with a key. When the host is not configured to handle
/// security, the connection answers Pairing Request and Security Request itself with Pairing
/// Failed (Pairing Not Supported), and these events are still delivered.
package protocol SecurityChannel: Sendable {
    /// The link this channel belongs to.
    var link: LinkInfo { get }
    /// SMP PDUs and encryption events of this link, in order; one consumer.
    var securityEvents: AsyncStream<SecurityEvent> { get }
    /// Sends one SMP PDU (code octet first) on channel 0x0006.
    func sendSecurityPDU(_ pdu: [UInt8]) async throws
    /// HCI LE Enable Encryption with a stored or fresh key; the outcome arrives as
    /// `.encryptionChanged`. Throws when the controller refuses the command.
    func startEncryption(longTermKey: [UInt8], encryptedDiversifier: UInt16, randomNumber: UInt64) async throws
}
