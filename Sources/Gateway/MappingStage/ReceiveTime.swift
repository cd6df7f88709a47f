import EdgeCore
import FHIRModel
import JSONQuery
import Store

/// The gateway's receive time on the Observations it maps (docs/phd-ig.md, "Time").
///
/// - `issued` is when the gateway received the message the Observation came from, not when the
///   mapping stage ran: after a backlog (the gateway off line, the store full) the mapping time
///   would claim a reading was made available hours after it was.
/// - When the device's clock timed the reading (a Bluetooth message with `timeSource: device`),
///   `effective[x]` is that device time, and the gateway's own receive instant, from the message's
///   `receivedAt`, is kept beside it in the `received-time` extension: the only trace of when the
///   reading reached the gateway, and what tells a stored backlog, or a device clock that is
///   wrong, from a live reading.
enum ReceiveTime {
    /// The extension holding the gateway's receive instant (`valueInstant`).
    static let extensionURL = "urn:fhir-edge:extension:received-time"

    /// What an Observation takes from the message it came from.
    struct Receipt {
        var issued: String
        var deviceTimedReceivedAt: String?
    }

    static func receipt(of item: InboxItem, message: JSONValue) -> Receipt {
        var receipt = Receipt(issued: item.message.receivedAt.iso8601)
        if message["timeSource"]?.stringValue == "device", let receivedAt = message["receivedAt"]?.stringValue,
           Timestamp(parsingISO8601Lenient: receivedAt) != nil {
            receipt.deviceTimedReceivedAt = receivedAt
        }
        return receipt
    }

    static func apply(_ receipt: Receipt, to observation: inout Observation) {
        observation.issued = receipt.issued
        if let receivedAt = receipt.deviceTimedReceivedAt {
            observation.otherElements["extension"] = [["url": .string(extensionURL), "valueInstant": .string(receivedAt)]]
        }
    }
}
