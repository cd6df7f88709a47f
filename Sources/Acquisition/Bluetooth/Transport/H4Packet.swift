/// One HCI packet as H4 frames it: an indicator octet, then the packet.
package enum H4Packet: Sendable, Equatable {
    /// Host to controller: opcode and parameters.
    case command(opcode: UInt16, parameters: [UInt8])
    /// Either way: connection handle, packet-boundary flag and one fragment.
    case acl(handle: UInt16, boundary: UInt8, data: [UInt8])
    /// Controller to host: event code and parameters.
    case event(code: UInt8, parameters: [UInt8])

    static let commandIndicator: UInt8 = 0x01
    static let aclIndicator: UInt8 = 0x02
    static let eventIndicator: UInt8 = 0x04

    /// The H4 bytes: indicator, header, payload.
    package var encoded: [UInt8] {
        switch self {
        case .command(let opcode, let parameters):
            return [Self.commandIndicator, UInt8(opcode & 0xFF), UInt8(opcode >> 8), UInt8(truncatingIfNeeded: parameters.count)] + parameters
        case .acl(let handle, let boundary, let data):
            let header = handle & 0x0FFF | UInt16(boundary & 0x3) << 12
            return [Self.aclIndicator, UInt8(header & 0xFF), UInt8(header >> 8),
                    UInt8(data.count & 0xFF), UInt8(data.count >> 8)] + data
        case .event(let code, let parameters):
            return [Self.eventIndicator, code, UInt8(truncatingIfNeeded: parameters.count)] + parameters
        }
    }
}

/// Cuts a byte stream (TCP, UART) into H4 packets from the controller. A byte that cannot start
/// a plausible packet is dropped and counted, so line noise or a controller's garbage costs the
/// packets it overlaps, not the stack: framing resumes at the next plausible indicator.
struct H4Framer: Sendable {
    /// Largest ACL fragment accepted from a controller (LE data length is at most 251; BR/EDR
    /// buffers are around 1021).
    var maximumACLLength = 1024
    private var buffer: [UInt8] = []
    private var start = 0
    /// Octets dropped while looking for a packet start.
    private(set) var discardedBytes = 0
    /// Times framing was lost and found again (a run of dropped octets counts once).
    private(set) var resyncs = 0
    private var discarding = false

    /// Appends `bytes` and returns every complete packet now available, in order.
    mutating func push(_ bytes: some Sequence<UInt8>) -> [H4Packet] {
        buffer.append(contentsOf: bytes)
        var packets: [H4Packet] = []
        while start < buffer.count {
            switch frame(at: start) {
            case .packet(let packet, let length):
                packets.append(packet)
                start += length
                discarding = false
            case .incomplete:
                compact()
                return packets
            case .implausible:
                if !discarding { resyncs += 1 }
                discarding = true
                discardedBytes += 1
                start += 1
            }
        }
        compact()
        return packets
    }

    private enum Frame {
        case packet(H4Packet, length: Int)
        case incomplete
        case implausible
    }

    private func frame(at index: Int) -> Frame {
        let available = buffer.count - index
        switch buffer[index] {
        case H4Packet.eventIndicator:
            guard available >= 3 else { return available >= 2 && !Self.plausibleEvent(buffer[index + 1]) ? .implausible : .incomplete }
            let code = buffer[index + 1]
            guard Self.plausibleEvent(code) else { return .implausible }
            let length = Int(buffer[index + 2])
            guard available >= 3 + length else { return .incomplete }
            return .packet(.event(code: code, parameters: Array(buffer[(index + 3)..<(index + 3 + length)])), length: 3 + length)
        case H4Packet.aclIndicator:
            guard available >= 5 else { return .incomplete }
            let header = UInt16(buffer[index + 1]) | UInt16(buffer[index + 2]) << 8
            let handle = header & 0x0FFF
            let boundary = UInt8(header >> 12 & 0x3)
            let broadcast = header >> 14
            let length = Int(buffer[index + 3]) | Int(buffer[index + 4]) << 8
            guard handle <= 0x0EFF, boundary != 0b11, broadcast == 0, length <= maximumACLLength else { return .implausible }
            guard available >= 5 + length else { return .incomplete }
            return .packet(.acl(handle: handle, boundary: boundary, data: Array(buffer[(index + 5)..<(index + 5 + length)])), length: 5 + length)
        default:
            return .implausible
        }
    }

    /// Event codes defined by the Core specification (through 5.4) plus the vendor code.
    private static func plausibleEvent(_ code: UInt8) -> Bool { (0x01...0x58).contains(code) || code == 0xFF }

    private mutating func compact() {
        if start >= buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096 {
            buffer.removeFirst(start)
            start = 0
        }
    }
}
