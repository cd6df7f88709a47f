/// The host's packet parsers driven straight from bytes, the way `BluetoothHost` drives them on
/// what a controller and a peer send, without an actor or a transport: the entry points of the
/// libFuzzer targets (Fuzz/FuzzHCI, FuzzL2CAP, FuzzATT, FuzzSMP) and of their regression tests.
/// Each returns how many packets or PDUs it parsed. None may trap on any input; a property that
/// must hold for every input (a parsed PDU re-encodes to one that parses the same) is a
/// precondition, so the fuzzer reports its violation as a crash.
package enum PacketParsing {
    /// An H4 byte stream from the controller, cut in two at `split` (framing across reads): every
    /// event parsed, Command Complete/Status matched against commands in flight, their return
    /// parameters read as the host's setup reads them, advertising reports turned into scan
    /// reports, and ACL fragments reassembled into L2CAP PDUs that go to `l2capPDU`.
    @discardableResult
    package static func controllerStream(_ bytes: [UInt8], split: Int) -> Int {
        var framer = H4Framer()
        var flow = CommandFlow()
        var reassembler = L2CAPReassembler()
        var bearer = ATTBearer()
        var acl = ACLFlow(fragmentLength: 27, buffers: 2)
        let setup: [HCICommand] = [.reset, .readLocalVersion, .readLocalSupportedCommands, .leReadLocalSupportedFeatures,
                                   .leReadBufferSize, .readBufferSize, .readDeviceAddress]
        var ticket = 0
        for command in setup {
            ticket += 1
            _ = flow.submit(command, ticket: ticket)
        }
        let cut = min(max(split, 0), bytes.count)
        let packets = framer.push(bytes[..<cut]) + framer.push(bytes[cut...])
        for packet in packets {
            switch packet {
            case .event(let code, let parameters):
                let event = HCIEvent(code: code, parameters: parameters)
                for action in flow.received(event) {
                    guard case .finish(_, .success(let reply)) = action else { continue }
                    _ = try? BluetoothHost.bufferSize(le: reply.returnParameters)
                    _ = BluetoothHost.supportsExtendedCommands(supportedCommands: reply.returnParameters, leFeatures: reply.returnParameters)
                    _ = BluetoothAddress(littleEndian: reply.returnParameters.prefix(6), type: .public)
                }
                switch event {
                case .advertisingReports(let reports):
                    for report in reports { _ = ScanReport(report) }
                case .numberOfCompletedPackets(let entries):
                    for entry in entries { _ = acl.completed(handle: entry.handle, count: Int(entry.count)) }
                case .disconnectionComplete(_, let handle, _):
                    reassembler.disconnected(handle: handle)
                    _ = acl.disconnected(handle: handle)
                default:
                    break
                }
            case .acl(let handle, let boundary, let data):
                if let pdu = reassembler.receive(handle: handle, boundary: boundary, data: data) {
                    l2capPDU(pdu, bearer: &bearer)
                }
            case .command:
                break
            }
        }
        return packets.count
    }

    /// ACL fragments of one or more links: each is a handle octet, a boundary octet (its low two
    /// bits), a length octet and that many data octets (fewer at the end of the input).
    /// Reassembled PDUs go to the channel the host would hand them to.
    @discardableResult
    package static func aclFragments(_ bytes: [UInt8]) -> Int {
        var reassembler = L2CAPReassembler()
        var bearer = ATTBearer()
        var index = 0
        var pdus = 0
        while index + 3 <= bytes.count {
            let handle = UInt16(bytes[index] & 0x03)
            let boundary = bytes[index + 1] & 0x03
            let length = Int(bytes[index + 2])
            let end = min(bytes.count, index + 3 + length)
            let data = Array(bytes[(index + 3)..<end])
            index = end
            if boundary == 0b11 {
                reassembler.disconnected(handle: handle)
                continue
            }
            if let pdu = reassembler.receive(handle: handle, boundary: boundary, data: data) {
                pdus += 1
                l2capPDU(pdu, bearer: &bearer)
            }
        }
        return pdus
    }

    /// One ATT exchange: the first octet picks the request the host has outstanding (MTU
    /// exchange, the three discovery requests, a read), the rest is what the peer sends: the
    /// response is parsed as that request's answer, and the same bytes are also served by the
    /// local GATT server as a peer's request and taken as a notification or indication.
    @discardableResult
    package static func attributeExchange(_ bytes: [UInt8]) -> Int {
        guard let selector = bytes.first else { return 0 }
        let pdu = Array(bytes.dropFirst())
        let requests: [[UInt8]] = [
            [ATTOpcode.exchangeMTURequest, 0xF7, 0x00],
            [ATTOpcode.readByGroupTypeRequest, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x28],
            [ATTOpcode.readByTypeRequest, 0x01, 0x00, 0xFF, 0xFF, 0x03, 0x28],
            [ATTOpcode.findInformationRequest, 0x01, 0x00, 0xFF, 0xFF],
            [ATTOpcode.readRequest, 0x03, 0x00],
        ]
        let request = requests[Int(selector) % requests.count]
        var bearer = ATTBearer()
        var parsed = 0
        for action in bearer.submit(request, ticket: 1) + bearer.received(pdu) {
            guard case .finish(_, .success(let response)) = action else { continue }
            parsed += 1
            switch request[0] {
            case ATTOpcode.exchangeMTURequest:
                if let mtu = response.u16(at: 1) { bearer.negotiated(serverMTU: mtu) }
            case ATTOpcode.readByGroupTypeRequest: _ = try? GATTDiscoveryParsing.services(response)
            case ATTOpcode.readByTypeRequest: _ = try? GATTDiscoveryParsing.characteristics(response)
            case ATTOpcode.findInformationRequest: _ = try? GATTDiscoveryParsing.descriptors(response)
            default: break
            }
        }
        // The same bytes from the peer on a fresh bearer: a request is served by the local GATT
        // server, whose answer must fit the MTU; a value is passed up (and an indication confirmed).
        var peer = ATTBearer()
        for action in peer.received(pdu) {
            switch action {
            case .send(let answer): precondition(answer.count <= Int(peer.mtu), "the local ATT server answered beyond the MTU")
            case .value(_, _, true): _ = peer.confirmIndication()
            default: break
            }
        }
        return parsed
    }

    /// One SMP PDU from the peer: parsed, and a parsed PDU re-encoded parses to the same PDU.
    @discardableResult
    package static func securityManagerPDU(_ bytes: [UInt8]) -> Int {
        guard let pdu = try? SecurityManagerPDU(bytes: bytes) else { return 0 }
        let again = try? SecurityManagerPDU(bytes: pdu.bytes)
        precondition(again == pdu, "an SMP PDU did not survive re-encoding")
        return 1
    }

    /// A reassembled PDU on the channel the host gives it to: ATT (the bearer), LE signalling
    /// (as central and as peripheral), SMP.
    private static func l2capPDU(_ pdu: L2CAPReassembler.PDU, bearer: inout ATTBearer) {
        switch pdu.channel {
        case L2CAPChannel.attribute:
            for action in bearer.received(pdu.payload) {
                if case .value(_, _, true) = action { _ = bearer.confirmIndication() }
            }
        case L2CAPChannel.signalling:
            _ = LESignalling.handle(pdu.payload, role: .central)
            _ = LESignalling.handle(pdu.payload, role: .peripheral)
        case L2CAPChannel.security:
            securityManagerPDU(pdu.payload)
        default:
            break
        }
    }
}
