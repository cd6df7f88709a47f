/// The ATT bearer of one link as a state machine: one client request outstanding at a time
/// (later ones wait their turn), responses matched to it, notifications passed up, and every
/// request the peer makes answered by the local server. An indication is confirmed only when its
/// consumer says the value is durable (`confirmIndication()`): the peer may delete it once
/// confirmed. One indication is outstanding at a time; one left unconfirmed for the transaction
/// timeout fails the bearer like an unanswered request (the peer has given up on it by then).
/// A request unanswered within the transaction timeout (30 s) fails, and the bearer is dead:
/// the specification allows no further ATT traffic on it, so the host ends the link.
struct ATTBearer: Sendable {
    typealias Ticket = Int

    enum Action: Sendable, Equatable {
        /// Send this ATT PDU to the peer.
        case send([UInt8])
        /// The request of this ticket is done: its response PDU, or why it failed.
        case finish(Ticket, Result<[UInt8], BluetoothError>)
        /// A value the peer sent unasked; an indicated one awaits `confirmIndication()`.
        case value(handle: UInt16, bytes: [UInt8], indicated: Bool)
        /// Start the transaction timer for this ticket.
        case startTimer(Ticket)
        /// Start the confirmation timer of this indication (numbered per bearer).
        case startConfirmationTimer(Int)
        /// The bearer failed: end the link.
        case fail(BluetoothError)
    }

    /// The MTU we offer and serve with.
    static let preferredMTU: UInt16 = 247
    private(set) var mtu: UInt16 = 23
    private var outstanding: (ticket: Ticket, request: UInt8)?
    private var waiting: [(ticket: Ticket, pdu: [UInt8])] = []
    private(set) var dead = false
    /// The indication received and not yet confirmed, by number.
    private(set) var unconfirmedIndication: Int?
    private var indications = 0
    var server: ATTServer
    /// Unsolicited PDUs that made no sense (a response with nothing outstanding, malformed).
    private(set) var protocolErrors = 0

    init(server: ATTServer = ATTServer()) { self.server = server }

    mutating func submit(_ pdu: [UInt8], ticket: Ticket) -> [Action] {
        guard !dead else { return [.finish(ticket, .failure(Self.deadError))] }
        waiting.append((ticket, pdu))
        return next()
    }

    mutating func received(_ pdu: [UInt8]) -> [Action] {
        guard let opcode = pdu.first, !dead else { return [] }
        switch opcode {
        case ATTOpcode.handleValueNotification:
            guard let handle = pdu.u16(at: 1) else { protocolErrors += 1; return [] }
            return [.value(handle: handle, bytes: Array(pdu.dropFirst(3)), indicated: false)]
        case ATTOpcode.handleValueIndication:
            // A second indication before the first is confirmed breaks the peer's side of the
            // protocol: dropped unconfirmed (the peer still holds it) and counted.
            guard let handle = pdu.u16(at: 1), unconfirmedIndication == nil else { protocolErrors += 1; return [] }
            indications += 1
            unconfirmedIndication = indications
            return [.value(handle: handle, bytes: Array(pdu.dropFirst(3)), indicated: true), .startConfirmationTimer(indications)]
        case ATTOpcode.multipleHandleValueNotification:
            var actions: [Action] = []
            var offset = 1
            while let handle = pdu.u16(at: offset), let length = pdu.u16(at: offset + 2), offset + 4 + Int(length) <= pdu.count {
                actions.append(.value(handle: handle, bytes: Array(pdu[(offset + 4)..<(offset + 4 + Int(length))]), indicated: false))
                offset += 4 + Int(length)
            }
            return actions
        case ATTOpcode.handleValueConfirmation:
            return []  // this server never indicates
        case _ where ATTOpcode.isResponse(opcode):
            return response(pdu)
        case _ where ATTOpcode.isCommand(opcode):
            return []  // commands get no response, and this server takes no writes
        default:
            if opcode == ATTOpcode.exchangeMTURequest, let clientMTU = pdu.u16(at: 1), clientMTU >= 23 {
                mtu = min(clientMTU, Self.preferredMTU)
            }
            return [.send(server.respond(to: pdu, mtu: Int(mtu)))]
        }
    }

    /// Exchange MTU Response: both sides now use the smaller of the two MTUs.
    mutating func negotiated(serverMTU: UInt16) {
        mtu = max(23, min(serverMTU, Self.preferredMTU))
    }

    /// The consumer made the outstanding indication's value durable: Handle Value Confirmation.
    /// Nothing when none is outstanding (confirmed already, or the bearer failed meanwhile).
    mutating func confirmIndication() -> [Action] {
        guard unconfirmedIndication != nil, !dead else { return [] }
        unconfirmedIndication = nil
        return [.send([ATTOpcode.handleValueConfirmation])]
    }

    /// The confirmation timer of indication `number` fired: unconfirmed still, the bearer fails.
    mutating func confirmationTimedOut(_ number: Int) -> [Action] {
        guard unconfirmedIndication == number, !dead else { return [] }
        unconfirmedIndication = nil
        let error = BluetoothError(.timeout, "indication not confirmed within the 30 s transaction timeout (its value was not made durable)")
        return fail(error)
    }

    mutating func timedOut(_ ticket: Ticket) -> [Action] {
        guard let outstanding, outstanding.ticket == ticket else { return [] }
        self.outstanding = nil
        let error = BluetoothError(.timeout, "ATT request 0x\(hex2(outstanding.request)): no response within the 30 s transaction timeout")
        return [.finish(ticket, .failure(error))] + fail(error)
    }

    /// No further ATT traffic: waiting requests fail, and the link is to be ended.
    private mutating func fail(_ error: BluetoothError) -> [Action] {
        dead = true
        unconfirmedIndication = nil
        var actions: [Action] = []
        if let outstanding { actions.append(.finish(outstanding.ticket, .failure(Self.deadError))) }
        outstanding = nil
        actions += waiting.map { Action.finish($0.ticket, .failure(Self.deadError)) }
        waiting = []
        return actions + [.fail(error)]
    }

    /// The link is gone: everything pending fails with `error`.
    mutating func closed(_ error: BluetoothError) -> [Action] {
        dead = true
        unconfirmedIndication = nil
        var actions: [Action] = []
        if let outstanding { actions.append(.finish(outstanding.ticket, .failure(error))) }
        outstanding = nil
        actions += waiting.map { .finish($0.ticket, .failure(error)) }
        waiting = []
        return actions
    }

    private mutating func response(_ pdu: [UInt8]) -> [Action] {
        guard let outstanding else {
            protocolErrors += 1
            return []
        }
        let opcode = pdu[0]
        if opcode == ATTOpcode.errorResponse {
            guard pdu.count >= 5, pdu[1] == outstanding.request else { protocolErrors += 1; return [] }
            self.outstanding = nil
            let handle = pdu.u16(at: 2) ?? 0
            let error = BluetoothError(.att(code: pdu[4]), "ATT request 0x\(hex2(outstanding.request)) on handle 0x\(String(handle, radix: 16)): \(ATTErrorCode.describe(pdu[4]))")
            return [.finish(outstanding.ticket, .failure(error))] + next()
        }
        guard opcode == outstanding.request + 1 else { protocolErrors += 1; return [] }
        self.outstanding = nil
        return [.finish(outstanding.ticket, .success(pdu))] + next()
    }

    private mutating func next() -> [Action] {
        guard outstanding == nil, !waiting.isEmpty else { return [] }
        let request = waiting.removeFirst()
        outstanding = (request.ticket, request.pdu[0])
        return [.send(request.pdu), .startTimer(request.ticket)]
    }

    static let deadError = BluetoothError(.disconnected(reason: 0x22), "ATT bearer closed after a transaction timeout")
}
