/// Why securing a link failed: what happened and what to do, never a key.
package struct PairingError: Error, Sendable, Equatable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// The device sent Pairing Failed.
        case rejectedByDevice(PairingFailureReason)
        /// This side stopped the pairing and sent Pairing Failed (a check failed, or the device
        /// offered only what the policy refuses).
        case refused(PairingFailureReason)
        /// No SMP progress for 30 s (Vol 3 Part H §3.4); the link must be dropped.
        case timeout
        /// The controller could not encrypt the link (HCI status).
        case encryptionFailed(status: UInt8)
        /// The device no longer has the bond this gateway holds (Encryption Change "PIN or Key
        /// Missing", or a MIC failure): pair again.
        case keyMissing
        /// The link dropped before the procedure ended (HCI reason).
        case disconnected(reason: UInt8)
        /// The bond store failed.
        case storage(String)
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}
