import EdgeCore

/// Why a Bluetooth operation failed. `description` names where (transport, command, link, ATT
/// handle) and why, and says what to do when there is something to do; never payload bytes.
package struct BluetoothError: CodedError, Sendable, Equatable {
    package enum Kind: Sendable, Hashable, CustomStringConvertible {
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

        /// `att-0x05`, `command-0x0c`, `disconnected-0x13`, `timeout`, ...
        package var description: String {
            switch self {
            case .transport: "transport"
            case .command(let status): "command-0x" + Hex.string([status])
            case .timeout: "timeout"
            case .disconnected(let reason): "disconnected-0x" + Hex.string([reason])
            case .att(let code): "att-0x" + Hex.string([code])
            case .protocolViolation: "protocol-violation"
            case .invalidRequest: "invalid-request"
            }
        }
    }

    package var kind: Kind
    package var message: String
    /// The system call's or the codec's error underneath; never part of equality.
    package var cause: (any Error)?

    package init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    package var code: Kind { kind }
    package var description: String { message }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind && lhs.message == rhs.message }

    /// ATT errors a bonded, encrypted link would avoid: raise security, then retry.
    package var needsSecurity: Bool {
        if case .att(let code) = kind { return ATTErrorCode.asksForSecurity(code) }
        return false
    }
}
