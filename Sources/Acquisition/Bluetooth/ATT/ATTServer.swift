/// The minimal ATT server every central needs: the peer's requests are answered from a tiny
/// read-only database (GAP service with Device Name and Appearance, and the GATT service), and
/// anything else gets an Error Response, so the peer never waits out its 30 s ATT timeout.
struct ATTServer: Sendable {
    struct Attribute: Sendable, Equatable {
        var handle: UInt16
        var type: UInt16
        var value: [UInt8]
    }

    private(set) var attributes: [Attribute]

    init(deviceName: String = "fhir-edge", appearance: UInt16 = 0x0000) {
        let name = Array(deviceName.utf8.prefix(64))
        attributes = [
            Attribute(handle: 0x0001, type: 0x2800, value: le16(0x1800)),
            Attribute(handle: 0x0002, type: 0x2803, value: [0x02] + le16(0x0003) + le16(0x2A00)),
            Attribute(handle: 0x0003, type: 0x2A00, value: name),
            Attribute(handle: 0x0004, type: 0x2803, value: [0x02] + le16(0x0005) + le16(0x2A01)),
            Attribute(handle: 0x0005, type: 0x2A01, value: le16(appearance)),
            Attribute(handle: 0x0006, type: 0x2800, value: le16(0x1801)),
        ]
    }

    /// End handle of the group a service declaration opens.
    private func groupEnd(after index: Int) -> UInt16 {
        let rest = attributes[(index + 1)...]
        if let nextService = rest.first(where: { $0.type == 0x2800 }) { return nextService.handle - 1 }
        return index == attributes.count - 1 ? attributes[index].handle : 0xFFFF
    }

    func respond(to pdu: [UInt8], mtu: Int) -> [UInt8] {
        let opcode = pdu[0]
        let notFound = { (handle: UInt16) in ATTErrorCode.response(request: opcode, handle: handle, code: ATTErrorCode.attributeNotFound) }
        let invalid = ATTErrorCode.response(request: opcode, handle: 0, code: ATTErrorCode.invalidPDU)
        switch opcode {
        case ATTOpcode.exchangeMTURequest:
            guard pdu.count == 3 else { return invalid }
            return [ATTOpcode.exchangeMTUResponse] + le16(ATTBearer.preferredMTU)
        case ATTOpcode.readRequest, ATTOpcode.readBlobRequest:
            guard let handle = pdu.u16(at: 1) else { return invalid }
            guard let attribute = attributes.first(where: { $0.handle == handle }) else {
                return ATTErrorCode.response(request: opcode, handle: handle, code: ATTErrorCode.invalidHandle)
            }
            let offset = opcode == ATTOpcode.readBlobRequest ? Int(pdu.u16(at: 3) ?? 0) : 0
            guard offset <= attribute.value.count else {
                return ATTErrorCode.response(request: opcode, handle: handle, code: ATTErrorCode.invalidOffset)
            }
            return [opcode + 1] + Array(attribute.value[offset...].prefix(mtu - 1))
        case ATTOpcode.readByGroupTypeRequest, ATTOpcode.readByTypeRequest, ATTOpcode.findInformationRequest, ATTOpcode.findByTypeValueRequest:
            guard let start = pdu.u16(at: 1), let end = pdu.u16(at: 3), start != 0, start <= end else {
                return ATTErrorCode.response(request: opcode, handle: pdu.u16(at: 1) ?? 0, code: ATTErrorCode.invalidHandle)
            }
            let inRange = attributes.enumerated().filter { $0.element.handle >= start && $0.element.handle <= end }
            switch opcode {
            case ATTOpcode.readByGroupTypeRequest:
                guard pdu.count == 7, let type = pdu.u16(at: 5) else {
                    return ATTErrorCode.response(request: opcode, handle: start, code: ATTErrorCode.unsupportedGroupType)
                }
                guard type == 0x2800 else { return ATTErrorCode.response(request: opcode, handle: start, code: ATTErrorCode.unsupportedGroupType) }
                var entries: [UInt8] = []
                for (index, attribute) in inRange where attribute.type == 0x2800 {
                    guard 2 + entries.count + 6 <= mtu else { break }
                    entries += le16(attribute.handle) + le16(groupEnd(after: index)) + attribute.value
                }
                return entries.isEmpty ? notFound(start) : [ATTOpcode.readByGroupTypeResponse, 6] + entries
            case ATTOpcode.readByTypeRequest:
                guard pdu.count == 7, let type = pdu.u16(at: 5) else { return notFound(start) }
                let matching = inRange.map(\.element).filter { $0.type == type }
                guard let first = matching.first else { return notFound(start) }
                // Entries of one response share a length: stop at the first that differs.
                var entries: [UInt8] = []
                for attribute in matching where attribute.value.count == first.value.count {
                    guard 2 + entries.count + 2 + attribute.value.count <= mtu else { break }
                    entries += le16(attribute.handle) + attribute.value
                }
                return [ATTOpcode.readByTypeResponse, UInt8(2 + first.value.count)] + entries
            case ATTOpcode.findInformationRequest:
                guard !inRange.isEmpty else { return notFound(start) }
                var entries: [UInt8] = []
                for (_, attribute) in inRange where 2 + entries.count + 4 <= mtu {
                    entries += le16(attribute.handle) + le16(attribute.type)
                }
                return [ATTOpcode.findInformationResponse, 0x01] + entries
            default:
                guard pdu.count >= 7, let type = pdu.u16(at: 5) else { return notFound(start) }
                let value = Array(pdu.dropFirst(7))
                var entries: [UInt8] = []
                for (index, attribute) in inRange where attribute.type == type && attribute.value == value {
                    entries += le16(attribute.handle) + le16(type == 0x2800 ? groupEnd(after: index) : attribute.handle)
                }
                return entries.isEmpty ? notFound(start) : [0x07] + entries
            }
        case ATTOpcode.writeRequest, ATTOpcode.prepareWriteRequest:
            let handle = pdu.u16(at: 1) ?? 0
            let exists = attributes.contains { $0.handle == handle }
            return ATTErrorCode.response(request: opcode, handle: handle, code: exists ? ATTErrorCode.writeNotPermitted : ATTErrorCode.invalidHandle)
        default:
            return ATTErrorCode.response(request: opcode, handle: 0, code: ATTErrorCode.requestNotSupported)
        }
    }
}
