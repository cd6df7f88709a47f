import EdgeCore

/// The four Modbus data tables.
package enum ModbusTable: String, Sendable, Hashable, CaseIterable {
    /// Read/write 16-bit registers (function 3).
    case holding
    /// Read-only 16-bit registers (function 4).
    case input
    /// Read/write bits (function 1).
    case coil
    /// Read-only bits (function 2).
    case discrete

    /// Registers carry 16-bit words; coils and discrete inputs carry bits.
    package var holdsWords: Bool { self == .holding || self == .input }
}

/// One read: `count` registers or bits from 0-based PDU `address` of `table` on `unit`.
package struct ModbusReadRequest: Sendable, Hashable, CustomStringConvertible {
    package var unit: UInt8
    package var table: ModbusTable
    package var address: UInt16
    package var count: UInt16

    package init(unit: UInt8, table: ModbusTable, address: UInt16, count: UInt16) {
        self.unit = unit
        self.table = table
        self.address = address
        self.count = count
    }

    package var description: String { "unit \(unit) \(table.rawValue) \(address)+\(count)" }
}

/// What a read returned: 16-bit words for register tables, bits for coil tables.
package enum ModbusReply: Sendable, Equatable {
    case registers([UInt16])
    case bits([Bool])
}

/// Exception codes a Modbus server answers with, named as the specification names them.
package enum ModbusException: UInt8, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case illegalFunction = 1
    case illegalDataAddress = 2
    case illegalDataValue = 3
    case serverDeviceFailure = 4
    case acknowledge = 5
    case serverDeviceBusy = 6
    case negativeAcknowledge = 7
    case memoryParityError = 8
    case gatewayPathUnavailable = 10
    case gatewayTargetFailedToRespond = 11

    package var description: String {
        switch self {
        case .illegalFunction: "illegal function"
        case .illegalDataAddress: "illegal data address"
        case .illegalDataValue: "illegal data value"
        case .serverDeviceFailure: "server device failure"
        case .acknowledge: "acknowledge"
        case .serverDeviceBusy: "server device busy"
        case .negativeAcknowledge: "negative acknowledge"
        case .memoryParityError: "memory parity error"
        case .gatewayPathUnavailable: "gateway path unavailable"
        case .gatewayTargetFailedToRespond: "gateway target device failed to respond"
        }
    }
}

/// Why a read failed; `description` names the request's endpoint and the cause, never values.
package struct ModbusError: CodedError, Sendable, Equatable {
    package enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// The server answered with an exception response.
        case exception(ModbusException)
        /// No (complete) reply within the response timeout.
        case timeout
        /// Could not connect, or the connection or serial port failed.
        case connection
        /// A reply that does not belong to the request (CRC, transaction or unit id, length).
        case badReply
        /// The request itself is invalid (count out of range, settings).
        case invalidRequest

        /// `exception-6`, `timeout`, `connection`, `bad-reply`, `invalid-request`.
        package var description: String {
            switch self {
            case .exception(let exception): "exception-\(exception.rawValue)"
            case .timeout: "timeout"
            case .connection: "connection"
            case .badReply: "bad-reply"
            case .invalidRequest: "invalid-request"
            }
        }
    }

    package var kind: Kind
    package var message: String
    /// The system call's error underneath (a serial port, a socket); never part of equality.
    package var cause: (any Error)?

    package init(_ kind: Kind, _ message: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.cause = cause
    }

    package var code: Kind { kind }
    package var description: String { message }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind && lhs.message == rhs.message }
}

/// One Modbus connection: a TCP device or an RS-485 bus. Requests on one link are served one at
/// a time in order; different links never wait for each other. Implementations run the blocking
/// library calls on their own thread and restore a clean link after a timeout (a late reply must
/// never be read as the answer to the next request).
package protocol ModbusLink: Sendable {
    /// Human-readable endpoint for logs and errors, e.g. `tcp 127.0.0.1:1502` or `rtu /dev/ttyUSB0`.
    var endpoint: String { get }
    func read(_ request: ModbusReadRequest, timeout: Duration) async throws(ModbusError) -> ModbusReply
    /// Closes the connection; later reads reconnect.
    func close() async
}
