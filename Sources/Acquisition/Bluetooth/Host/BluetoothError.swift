/// Why a Bluetooth operation failed. `description` names where (transport, command, link, ATT
/// handle) and why, and says what to do when there is something to do; never payload bytes.
public struct BluetoothError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The transport could not be opened, or it failed or closed.
        case transport
        /// The controller answered a command with a non-zero HCI status.
        case command(status: UInt8)
        /// No answer in time (HCI command, connection, ATT transaction).
        case timeout
        /// The link went away (HCI reason code).
        case disconnected(reason: UInt8)
        /// The peer answered an ATT request with an Error Response.
        case att(code: UInt8)
        /// Bytes that do not follow the protocol (counted and dropped where they arrive).
        case protocolViolation
        /// The caller asked for something invalid or unsupported (argument, state).
        case invalidRequest
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// ATT errors a bonded, encrypted link would avoid: raise security, then retry.
    public var needsSecurity: Bool {
        if case .att(let code) = kind { return ATTErrorCode.asksForSecurity(code) }
        return false
    }
}
