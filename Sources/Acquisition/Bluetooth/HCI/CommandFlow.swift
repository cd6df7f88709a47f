/// HCI command flow control as a state machine: commands wait for a credit
/// (Num_HCI_Command_Packets of the last Command Complete/Status), each is answered by the Command
/// Complete or Command Status that names its opcode (oldest first), and one that gets no answer
/// in time fails on its own. The host feeds events and timeouts in and performs the actions.
struct CommandFlow: Sendable {
    typealias Ticket = Int

    /// What the answer said: the status and, for Command Complete, the return parameters after it.
    struct Reply: Sendable, Equatable {
        var status: UInt8
        var returnParameters: [UInt8]
    }

    enum Action: Sendable, Equatable {
        case send(HCICommand, Ticket)
        case finish(Ticket, Result<Reply, BluetoothError>)
    }

    private var credits = 1
    private var waiting: [(ticket: Ticket, command: HCICommand)] = []
    private var inFlight: [(ticket: Ticket, command: HCICommand)] = []

    var isIdle: Bool { waiting.isEmpty && inFlight.isEmpty }

    mutating func submit(_ command: HCICommand, ticket: Ticket) -> [Action] {
        waiting.append((ticket, command))
        return drain()
    }

    /// Feeds a Command Complete or Command Status; other events produce no action.
    mutating func received(_ event: HCIEvent) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .commandComplete(let credits, let opcode, let returnParameters):
            self.credits = Int(credits)
            if let index = inFlight.firstIndex(where: { $0.command.opcode == opcode }) {
                let entry = inFlight.remove(at: index)
                // Every Command Complete this host awaits starts with a status octet.
                let status = returnParameters.first ?? 0xFF
                actions.append(.finish(entry.ticket, status == 0
                    ? .success(Reply(status: 0, returnParameters: Array(returnParameters.dropFirst())))
                    : .failure(Self.failure(entry.command, status: status))))
            }
        case .commandStatus(let status, let credits, let opcode):
            self.credits = Int(credits)
            if let index = inFlight.firstIndex(where: { $0.command.opcode == opcode }) {
                let entry = inFlight.remove(at: index)
                actions.append(.finish(entry.ticket, status == 0
                    ? .success(Reply(status: 0, returnParameters: []))
                    : .failure(Self.failure(entry.command, status: status))))
            }
        default:
            return []
        }
        return actions + drain()
    }

    /// The command's time is up: it fails, and the credit it held is assumed back (a controller
    /// that lost a command would otherwise stall every later one).
    mutating func timedOut(_ ticket: Ticket) -> [Action] {
        if let index = inFlight.firstIndex(where: { $0.ticket == ticket }) {
            let entry = inFlight.remove(at: index)
            credits = max(credits, 1)
            return [.finish(ticket, .failure(BluetoothError(.timeout, "HCI \(entry.command.name): no Command Complete or Command Status from the controller")))] + drain()
        }
        if let index = waiting.firstIndex(where: { $0.ticket == ticket }) {
            let entry = waiting.remove(at: index)
            return [.finish(ticket, .failure(BluetoothError(.timeout, "HCI \(entry.command.name): the controller accepted no command in time")))]
        }
        return []
    }

    /// Every command fails with `error` (the transport is gone).
    mutating func failAll(_ error: BluetoothError) -> [Action] {
        let all = inFlight + waiting
        inFlight = []
        waiting = []
        return all.map { .finish($0.ticket, .failure(error)) }
    }

    private mutating func drain() -> [Action] {
        var actions: [Action] = []
        // At most one command in flight even when the controller offers more credits: answers
        // then match unambiguously and a failing setup step stops the ones after it.
        while credits > 0, inFlight.isEmpty, !waiting.isEmpty {
            let next = waiting.removeFirst()
            credits -= 1
            inFlight.append(next)
            actions.append(.send(next.command, next.ticket))
        }
        return actions
    }

    static func failure(_ command: HCICommand, status: UInt8) -> BluetoothError {
        BluetoothError(.command(status: status), "HCI \(command.name) failed: \(HCIStatus.describe(status))")
    }
}

/// HCI error codes named as the Core specification names them (Vol 1 Part F).
enum HCIStatus {
    static func describe(_ status: UInt8) -> String {
        let name: String
        switch status {
        case 0x00: name = "success"
        case 0x01: name = "unknown HCI command"
        case 0x02: name = "unknown connection identifier"
        case 0x05: name = "authentication failure"
        case 0x06: name = "PIN or key missing"
        case 0x07: name = "memory capacity exceeded"
        case 0x08: name = "connection timeout"
        case 0x09: name = "connection limit exceeded"
        case 0x0C: name = "command disallowed"
        case 0x0D: name = "rejected: limited resources"
        case 0x12: name = "invalid HCI command parameters"
        case 0x13: name = "remote user terminated connection"
        case 0x16: name = "connection terminated by local host"
        case 0x1A: name = "unsupported remote feature"
        case 0x1F: name = "unspecified error"
        case 0x22: name = "LL response timeout"
        case 0x3B: name = "unacceptable connection parameters"
        case 0x3D: name = "connection terminated due to MIC failure"
        case 0x3E: name = "connection failed to be established"
        default: name = "error"
        }
        return "\(name) (0x\(hex2(status)))"
    }
}
