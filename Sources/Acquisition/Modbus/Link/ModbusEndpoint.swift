/// Where a Modbus link goes: a TCP server (a device or a gateway) or a serial line (an RS-485 bus,
/// shared by every unit on it).
package enum ModbusEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case rtu(ModbusSerialLine)

    /// `tcp 127.0.0.1:1502` or `rtu /dev/ttyUSB0 19200 8E1`.
    package var description: String {
        switch self {
        case .tcp(let host, let port): "tcp \(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .rtu(let line): "rtu \(line)"
        }
    }
}

/// Serial settings of an RTU line.
package struct ModbusSerialLine: Sendable, Hashable, CustomStringConvertible {
    package enum Parity: String, Sendable, Hashable, CaseIterable {
        case none = "N"
        case even = "E"
        case odd = "O"
    }

    package var device: String
    package var baud: Int
    package var parity: Parity
    package var dataBits: Int
    package var stopBits: Int

    package init(device: String, baud: Int, parity: Parity = .even, dataBits: Int = 8, stopBits: Int = 1) {
        self.device = device
        self.baud = baud
        self.parity = parity
        self.dataBits = dataBits
        self.stopBits = stopBits
    }

    /// `/dev/ttyUSB0 19200 8E1`.
    package var description: String { "\(device) \(baud) \(dataBits)\(parity.rawValue)\(stopBits)" }

    /// What is wrong with these settings, or nil. Settings libmodbus would silently replace (an
    /// unknown baud becomes 9600) are refused instead.
    package var problem: String? {
        if device.isEmpty { return "the serial device is empty" }
        if !Self.baudRates.contains(baud) { return "baud \(baud) is not a standard rate (\(Self.baudRates.map(String.init).joined(separator: ", ")))" }
        if !(5...8).contains(dataBits) { return "data bits must be 5 to 8, not \(dataBits)" }
        if !(1...2).contains(stopBits) { return "stop bits must be 1 or 2, not \(stopBits)" }
        return nil
    }

    static let baudRates = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600]
}
