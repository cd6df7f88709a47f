import EdgeSystem
import CBluetoothHCI
#if canImport(Glibc)
import Glibc
#endif

/// Where the controller is: `tcp:HOST:PORT` (the test rig, or an H4 bridge), `uart:/dev/ttyX[:BAUD]`
/// (a UART controller, 115200 baud by default, RTS/CTS flow control on; `uart:PATH:BAUD:noflow`
/// turns it off), `hci:N` (the kernel's HCI user channel on adapter hciN).
package enum TransportAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case uart(path: String, baudRate: Int, flowControl: Bool)
    case userChannel(adapter: Int)

    package init(parsing text: String) throws {
        let usage = "use tcp:HOST:PORT, uart:/dev/ttyX[:BAUD] or hci:N"
        if text.hasPrefix("tcp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0,
                  colon > rest.startIndex else {
                throw BluetoothError(.invalidRequest, "transport '\(text)': expected tcp:HOST:PORT")
            }
            self = .tcp(host: String(rest[..<colon]), port: port)
        } else if text.hasPrefix("uart:") {
            let parts = text.dropFirst(5).split(separator: ":", omittingEmptySubsequences: false)
            guard let path = parts.first, path.hasPrefix("/"), parts.count <= 3 else {
                throw BluetoothError(.invalidRequest, "transport '\(text)': expected uart:/dev/ttyX[:BAUD[:noflow]]")
            }
            var baud = 115_200
            if parts.count >= 2 {
                guard let value = Int(parts[1]), UARTSettings.speed(for: value) != nil else {
                    throw BluetoothError(.invalidRequest, "transport '\(text)': unsupported baud rate '\(parts[1])' (\(UARTSettings.supportedRates.map(String.init).joined(separator: ", ")))")
                }
                baud = value
            }
            if parts.count == 3, parts[2] != "noflow" {
                throw BluetoothError(.invalidRequest, "transport '\(text)': the fourth field may only be 'noflow'")
            }
            self = .uart(path: String(path), baudRate: baud, flowControl: parts.count < 3)
        } else if text.hasPrefix("hci:") {
            guard let index = Int(text.dropFirst(4)), index >= 0, index < 0xFFFF else {
                throw BluetoothError(.invalidRequest, "transport '\(text)': expected hci:N (the adapter number of hciN)")
            }
            self = .userChannel(adapter: index)
        } else {
            throw BluetoothError(.invalidRequest, "transport '\(text)': unknown kind; \(usage)")
        }
    }

    package var description: String {
        switch self {
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        case .uart(let path, let baud, let flow): "uart:\(path):\(baud)" + (flow ? "" : ":noflow")
        case .userChannel(let adapter): "hci:\(adapter)"
        }
    }

    /// Opens the transport; the blocking open runs on its own thread.
    package func open() async throws -> any CountingTransport {
        let name = description
        switch self {
        case .tcp(let host, let port):
            let descriptor = try await DedicatedThread.run("hci-open \(name)") { try Self.connectTCP(host: host, port: port, name: name) }
            return FileDescriptorTransport.start(descriptor: descriptor, name: name)
        case .uart(let path, let baud, let flow):
            let descriptor = try await DedicatedThread.run("hci-open \(name)") { try UARTSettings.open(path: path, baudRate: baud, flowControl: flow) }
            return FileDescriptorTransport.start(descriptor: descriptor, name: name)
        case .userChannel(let adapter):
            let result = fe_hci_user_channel_open(Int32(adapter))
            guard result >= 0 else { throw Self.userChannelError(adapter: adapter, errno: -result) }
            return FileDescriptorTransport.start(descriptor: result, name: name)
        }
    }

    static func userChannelError(adapter: Int, errno code: Int32) -> BluetoothError {
        let why: String
        switch code {
        case EAFNOSUPPORT: why = "no Bluetooth in this kernel (AF_BLUETOOTH unsupported; CONFIG_BT is off)"
        case EBUSY: why = "adapter in use: run `hciconfig hci\(adapter) down` (or `btmgmt --index \(adapter) power off`) and stop bluetoothd or tell it to leave the adapter alone"
        case EPERM, EACCES: why = "needs CAP_NET_ADMIN (run as root or grant the capability: setcap cap_net_admin+ep)"
        case ENODEV: why = "no adapter hci\(adapter) (see `ls /sys/class/bluetooth`)"
        case EALREADY: why = "the user channel on hci\(adapter) is already open in another process"
        default: why = String(cString: strerror(code))
        }
        return BluetoothError(.transport, "hci:\(adapter): cannot open the HCI user channel: \(why)")
    }

    private static func connectTCP(host: String, port: UInt16, name: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw BluetoothError(.transport, "\(name): cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError: Int32 = 0
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let descriptor = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if descriptor >= 0 {
                if connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return descriptor
                }
                lastError = errno
                Glibc.close(descriptor)
            } else {
                lastError = errno
            }
            entry = info.pointee.ai_next
        }
        throw BluetoothError(.transport, "\(name): cannot connect: \(String(cString: strerror(lastError)))")
    }
}

/// A serial port in raw mode for H4 (8N1, no echo, no line discipline).
enum UARTSettings {
    static let supportedRates = [9_600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_000_000, 2_000_000, 3_000_000]

    static func speed(for rate: Int) -> speed_t? {
        switch rate {
        case 9_600: speed_t(B9600)
        case 19_200: speed_t(B19200)
        case 38_400: speed_t(B38400)
        case 57_600: speed_t(B57600)
        case 115_200: speed_t(B115200)
        case 230_400: speed_t(B230400)
        case 460_800: speed_t(B460800)
        case 921_600: speed_t(B921600)
        case 1_000_000: speed_t(B1000000)
        case 2_000_000: speed_t(B2000000)
        case 3_000_000: speed_t(B3000000)
        default: nil
        }
    }

    static func open(path: String, baudRate: Int, flowControl: Bool) throws -> Int32 {
        let name = "uart:\(path)"
        let descriptor = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw BluetoothError(.transport, "\(name): cannot open: \(String(cString: strerror(errno)))")
        }
        var settings = termios()
        guard tcgetattr(descriptor, &settings) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw BluetoothError(.transport, "\(name): not a serial port: \(message)")
        }
        cfmakeraw(&settings)
        settings.c_cflag |= tcflag_t(CLOCAL | CREAD)
        if flowControl { settings.c_cflag |= tcflag_t(CRTSCTS) } else { settings.c_cflag &= ~tcflag_t(CRTSCTS) }
        if let speed = speed(for: baudRate) {
            cfsetispeed(&settings, speed)
            cfsetospeed(&settings, speed)
        }
        guard tcsetattr(descriptor, TCSANOW, &settings) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw BluetoothError(.transport, "\(name): cannot configure \(baudRate) baud raw mode: \(message)")
        }
        tcflush(descriptor, TCIOFLUSH)
        return descriptor
    }
}
