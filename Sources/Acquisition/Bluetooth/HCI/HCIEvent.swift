/// The controller events the host acts on, parsed from an H4 event packet. Parsing never traps:
/// a truncated event is `.malformed` (counted and dropped by the host).
enum HCIEvent: Sendable, Equatable {
    case commandComplete(credits: UInt8, opcode: UInt16, returnParameters: [UInt8])
    case commandStatus(status: UInt8, credits: UInt8, opcode: UInt16)
    case disconnectionComplete(status: UInt8, handle: UInt16, reason: UInt8)
    case encryptionChange(status: UInt8, handle: UInt16, enabled: Bool)
    case encryptionKeyRefreshComplete(status: UInt8, handle: UInt16)
    case numberOfCompletedPackets([CompletedPackets])
    case hardwareError(code: UInt8)
    case connectionComplete(ConnectionComplete)
    case advertisingReports([AdvertisingReport])
    case connectionUpdateComplete(status: UInt8, handle: UInt16, interval: UInt16, latency: UInt16, timeout: UInt16)
    case longTermKeyRequest(handle: UInt16)
    case dataLengthChange(handle: UInt16, maxTxOctets: UInt16, maxRxOctets: UInt16)
    /// An event the host does not act on (code, LE subevent when LE Meta).
    case ignored(code: UInt8, subevent: UInt8?)
    case malformed(code: UInt8)

    struct CompletedPackets: Sendable, Equatable {
        var handle: UInt16
        var count: UInt16
    }

    struct ConnectionComplete: Sendable, Equatable {
        var status: UInt8
        var handle: UInt16
        var role: LinkRole
        var peer: BluetoothAddress
        var interval: UInt16
    }

    /// One advertising or scan-response report, from either the legacy or the extended event.
    struct AdvertisingReport: Sendable, Equatable {
        var address: BluetoothAddress
        var connectable: Bool
        var scannable: Bool
        var isScanResponse: Bool
        var rssi: Int8?
        var data: [UInt8]
    }

    init(code: UInt8, parameters p: [UInt8]) {
        switch code {
        case 0x0E:
            guard let credits = p.u8(at: 0), let opcode = p.u16(at: 1) else { self = .malformed(code: code); return }
            self = .commandComplete(credits: credits, opcode: opcode, returnParameters: Array(p.dropFirst(3)))
        case 0x0F:
            guard let status = p.u8(at: 0), let credits = p.u8(at: 1), let opcode = p.u16(at: 2) else { self = .malformed(code: code); return }
            self = .commandStatus(status: status, credits: credits, opcode: opcode)
        case 0x05:
            guard let status = p.u8(at: 0), let handle = p.u16(at: 1), let reason = p.u8(at: 3) else { self = .malformed(code: code); return }
            self = .disconnectionComplete(status: status, handle: handle & 0x0FFF, reason: reason)
        case 0x08, 0x59:
            guard let status = p.u8(at: 0), let handle = p.u16(at: 1), let enabled = p.u8(at: 3) else { self = .malformed(code: code); return }
            self = .encryptionChange(status: status, handle: handle & 0x0FFF, enabled: enabled != 0)
        case 0x30:
            guard let status = p.u8(at: 0), let handle = p.u16(at: 1) else { self = .malformed(code: code); return }
            self = .encryptionKeyRefreshComplete(status: status, handle: handle & 0x0FFF)
        case 0x13:
            guard let count = p.u8(at: 0), p.count >= 1 + 4 * Int(count) else { self = .malformed(code: code); return }
            self = .numberOfCompletedPackets((0..<Int(count)).compactMap { index in
                guard let handle = p.u16(at: 1 + 4 * index), let completed = p.u16(at: 3 + 4 * index) else { return nil }
                return CompletedPackets(handle: handle & 0x0FFF, count: completed)
            })
        case 0x10:
            self = p.u8(at: 0).map { .hardwareError(code: $0) } ?? .malformed(code: code)
        case 0x3E:
            self = Self.leMeta(p)
        default:
            self = .ignored(code: code, subevent: nil)
        }
    }

    private static func leMeta(_ p: [UInt8]) -> HCIEvent {
        guard let subevent = p.u8(at: 0) else { return .malformed(code: 0x3E) }
        let malformed = HCIEvent.malformed(code: 0x3E)
        switch subevent {
        case 0x01, 0x0A, 0x29:
            // Connection Complete; Enhanced (v1/v2) adds two 6-octet private addresses before the interval.
            guard let status = p.u8(at: 1), let handle = p.u16(at: 2), let role = p.u8(at: 4), let type = p.u8(at: 5), p.count >= 12 else { return malformed }
            let intervalOffset = subevent == 0x01 ? 12 : 24
            let peer = BluetoothAddress(littleEndian: p[6..<12], type: AddressType(rawValue: type))
            return .connectionComplete(ConnectionComplete(status: status, handle: handle & 0x0FFF, role: role == 0 ? .central : .peripheral,
                                                          peer: peer, interval: p.u16(at: intervalOffset) ?? 0))
        case 0x02:
            guard let count = p.u8(at: 1) else { return malformed }
            var reports: [AdvertisingReport] = []
            var offset = 2
            for _ in 0..<count {
                guard let eventType = p.u8(at: offset), let type = p.u8(at: offset + 1), let length = p.u8(at: offset + 8),
                      offset + 10 + Int(length) <= p.count else { return malformed }
                let data = Array(p[(offset + 9)..<(offset + 9 + Int(length))])
                let rssi = Int8(bitPattern: p[offset + 9 + Int(length)])
                // ADV_IND 0, ADV_DIRECT_IND 1, ADV_SCAN_IND 2, ADV_NONCONN_IND 3, SCAN_RSP 4.
                reports.append(AdvertisingReport(
                    address: BluetoothAddress(littleEndian: p[(offset + 2)..<(offset + 8)], type: AddressType(rawValue: type)),
                    connectable: eventType == 0 || eventType == 1, scannable: eventType == 0 || eventType == 2,
                    isScanResponse: eventType == 4, rssi: rssi == 127 ? nil : rssi, data: data))
                offset += 10 + Int(length)
            }
            return .advertisingReports(reports)
        case 0x0D:
            guard let count = p.u8(at: 1) else { return malformed }
            var reports: [AdvertisingReport] = []
            var offset = 2
            for _ in 0..<count {
                guard let eventType = p.u16(at: offset), let type = p.u8(at: offset + 2), let length = p.u8(at: offset + 23),
                      offset + 24 + Int(length) <= p.count else { return malformed }
                let rssi = Int8(bitPattern: p[offset + 13])
                reports.append(AdvertisingReport(
                    address: BluetoothAddress(littleEndian: p[(offset + 3)..<(offset + 9)], type: AddressType(rawValue: type)),
                    connectable: eventType & 0x01 != 0, scannable: eventType & 0x02 != 0, isScanResponse: eventType & 0x08 != 0,
                    rssi: rssi == 127 ? nil : rssi, data: Array(p[(offset + 24)..<(offset + 24 + Int(length))])))
                offset += 24 + Int(length)
            }
            return .advertisingReports(reports)
        case 0x03:
            guard let status = p.u8(at: 1), let handle = p.u16(at: 2), let interval = p.u16(at: 4), let latency = p.u16(at: 6),
                  let timeout = p.u16(at: 8) else { return malformed }
            return .connectionUpdateComplete(status: status, handle: handle & 0x0FFF, interval: interval, latency: latency, timeout: timeout)
        case 0x05:
            guard let handle = p.u16(at: 1) else { return malformed }
            return .longTermKeyRequest(handle: handle & 0x0FFF)
        case 0x07:
            guard let handle = p.u16(at: 1), let tx = p.u16(at: 3), let rx = p.u16(at: 7) else { return malformed }
            return .dataLengthChange(handle: handle & 0x0FFF, maxTxOctets: tx, maxRxOctets: rx)
        default:
            return .ignored(code: 0x3E, subevent: subevent)
        }
    }
}
