/// The LE signalling channel (CID 0x0005) as the central answers it: a Connection Parameter
/// Update Request is accepted when the parameters are within the specification's ranges (the
/// host then asks its controller for them) and rejected otherwise; every other request gets a
/// Command Reject "command not understood"; responses and rejects from the peer need no answer.
enum LESignalling {
    struct Outcome: Sendable, Equatable {
        /// The signalling PDU to send back, if any.
        var reply: [UInt8]?
        /// Accepted parameters the controller is to apply (LE Connection Update).
        var update: Update?
    }

    struct Update: Sendable, Equatable {
        var intervalMin: UInt16
        var intervalMax: UInt16
        var latency: UInt16
        var timeout: UInt16
    }

    static let commandReject: UInt8 = 0x01
    static let connectionParameterUpdateRequest: UInt8 = 0x12
    static let connectionParameterUpdateResponse: UInt8 = 0x13
    static let creditBasedConnectionRequest: UInt8 = 0x14
    static let creditBasedConnectionResponse: UInt8 = 0x15

    static func handle(_ pdu: [UInt8], role: LinkRole) -> Outcome {
        guard let code = pdu.u8(at: 0), let identifier = pdu.u8(at: 1), let length = pdu.u16(at: 2) else {
            return Outcome(reply: nil, update: nil)
        }
        let data = Array(pdu.dropFirst(4))
        switch code {
        case connectionParameterUpdateRequest:
            // Only a central may accept; a peripheral receiving one rejects it as not understood.
            guard role == .central, length == 8, data.count >= 8,
                  let minimum = data.u16(at: 0), let maximum = data.u16(at: 2), let latency = data.u16(at: 4), let timeout = data.u16(at: 6) else {
                return Outcome(reply: reject(identifier), update: nil)
            }
            let update = Update(intervalMin: minimum, intervalMax: maximum, latency: latency, timeout: timeout)
            let accepted = acceptable(update)
            return Outcome(reply: [connectionParameterUpdateResponse, identifier] + le16(2) + le16(accepted ? 0x0000 : 0x0001),
                           update: accepted ? update : nil)
        case creditBasedConnectionRequest:
            // No dynamic channels: "LE_PSM not supported" (result 0x0002) with zeroed fields.
            return Outcome(reply: [creditBasedConnectionResponse, identifier] + le16(10) + [UInt8](repeating: 0, count: 8) + le16(0x0002), update: nil)
        case disconnectionRequest where data.count >= 4:
            // No dynamic channel exists to disconnect: "invalid CID in request", echoing the request's
            // destination CID (ours) and source CID (theirs).
            return Outcome(reply: [commandReject, identifier] + le16(6) + le16(0x0002) + Array(data[0..<4]), update: nil)
        case let code where noAnswer.contains(code):
            return Outcome(reply: nil, update: nil)
        default:
            return Outcome(reply: reject(identifier), update: nil)
        }
    }

    static let disconnectionRequest: UInt8 = 0x06
    /// Responses and indications: the peer expects no answer to these.
    static let noAnswer: Set<UInt8> = [commandReject, 0x07, connectionParameterUpdateResponse, creditBasedConnectionResponse, 0x16, 0x18, 0x1A]

    /// Core Vol 3 Part A 4.20 ranges, and a supervision timeout long enough for the interval
    /// and latency asked for.
    static func acceptable(_ update: Update) -> Bool {
        let intervals: ClosedRange<UInt16> = 6...3200
        guard intervals.contains(update.intervalMin), intervals.contains(update.intervalMax),
              update.intervalMin <= update.intervalMax, update.latency <= 499, (10...3200).contains(update.timeout) else { return false }
        // timeout (10 ms) > (1 + latency) * interval max (1.25 ms) * 2
        return Int(update.timeout) * 4 > (1 + Int(update.latency)) * Int(update.intervalMax)
    }

    static func reject(_ identifier: UInt8) -> [UInt8] {
        [commandReject, identifier] + le16(2) + le16(0x0000)
    }
}

