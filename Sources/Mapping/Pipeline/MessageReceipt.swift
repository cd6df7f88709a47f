import EdgeCore
import FHIRModel
import JSONQuery

/// What the Observations the pipeline builds take from the message they came from, beyond
/// the templates (docs/phd-ig.md: time, notes, body site).
///
/// - `issued` is when the gateway received the message, not when the mapping ran: after a
///   backlog (the gateway off line, the store full) the mapping time would claim a reading was
///   made available hours after it was.
/// - When the device's clock timed the reading (a Bluetooth message with `timeSource: device`),
///   `effective[x]` is that device time, and the gateway's own receive instant, from the message's
///   `receivedAt`, is kept beside it in the `received-time` extension: the only trace of when the
///   reading reached the gateway, and what tells a stored backlog, or a device clock that is
///   wrong, from a live reading.
/// - When the gateway corrected a device-timed Bluetooth reading because the device's clock was
///   off (the message's `clock.status` is `off`: its Current Time differed from the gateway's by
///   more than the tolerance), `effective[x]` is the corrected time and the Observation keeps what
///   the device said: the uncorrected time in the `device-time` extension (`valueDateTime`, the
///   device's zone-less clock taken as UTC) and the offset, device minus gateway, in the
///   `device-clock-offset` extension (`valueQuantity` in UCUM seconds), as the PHD IG's coincident
///   time stamp correction keeps them (docs/phd-ig.md).
/// - A Bluetooth message's `notes` (what the reading's status fields report: body movement,
///   irregular pulse, low perfusion...) become the Observation's `note`s, and its `bodySite` (the
///   thermometer's temperature type) the Observation's `bodySite`.
package enum MessageReceipt {
    /// The extension holding the gateway's receive instant (`valueInstant`).
    package static let receivedTimeURL = "urn:fhir-edge:extension:received-time"
    /// The extension holding the device's own, uncorrected time of a corrected reading (`valueDateTime`).
    package static let deviceTimeURL = "urn:fhir-edge:extension:device-time"
    /// The extension holding the device clock's offset from the gateway's (`valueQuantity`, s).
    package static let deviceClockOffsetURL = "urn:fhir-edge:extension:device-clock-offset"

    struct Receipt {
        var issued: String
        var deviceTimedReceivedAt: String?
        /// A reading corrected for an off device clock: the device's time and the offset.
        var correction: (deviceTime: String, offsetSeconds: Int64)?
        var notes: [String] = []
        var bodySite: JSONValue?

        /// Whether the receipt changes nothing but `issued` (every message but some Bluetooth ones).
        var onlyIssued: Bool { deviceTimedReceivedAt == nil && notes.isEmpty && bodySite == nil }
    }

    static func receipt(receivedAt: Timestamp, transport: Transport, message: JSONValue) -> Receipt {
        var receipt = Receipt(issued: receivedAt.iso8601)
        if message["timeSource"]?.stringValue == "device", let receivedAt = message["receivedAt"]?.stringValue,
           Timestamp(parsingISO8601Lenient: receivedAt) != nil {
            receipt.deviceTimedReceivedAt = receivedAt
            if transport == .ble, let clock = message["clock"], clock["status"]?.stringValue == "off",
               let seconds = clock["offsetSeconds"]?.doubleValue, seconds.rounded() == seconds, abs(seconds) < 1e12,
               let time = message["time"]?.stringValue, let corrected = Timestamp(parsingISO8601Lenient: time) {
                let offset = Int64(seconds)
                receipt.correction = (corrected.adding(milliseconds: offset * 1000).iso8601, offset)
            }
        }
        // Only the Bluetooth source's own notes: a pushed message's `notes` member is not the gateway's to publish.
        if transport == .ble, case .array(let notes)? = message["notes"] {
            receipt.notes = notes.compactMap { $0.stringValue }.filter { !$0.isEmpty }
        }
        if transport == .ble, case .object(let site)? = message["bodySite"], !site.isEmpty {
            receipt.bodySite = .object(site)
        }
        return receipt
    }

    static func apply(_ receipt: Receipt, to observation: inout Observation) {
        observation.issued = receipt.issued
        if let receivedAt = receipt.deviceTimedReceivedAt {
            var extensions: [JSONValue] = [["url": .string(receivedTimeURL), "valueInstant": .string(receivedAt)]]
            if let correction = receipt.correction {
                extensions.append(["url": .string(deviceTimeURL), "valueDateTime": .string(correction.deviceTime)])
                extensions.append([
                    "url": .string(deviceClockOffsetURL),
                    "valueQuantity": [
                        "value": .int(correction.offsetSeconds), "unit": "s", "system": "http://unitsofmeasure.org", "code": "s",
                    ],
                ])
            }
            observation.otherElements["extension"] = .array(extensions)
        }
        if let bodySite = receipt.bodySite { observation.otherElements["bodySite"] = bodySite }
        if !receipt.notes.isEmpty {
            observation.otherElements["note"] = .array(receipt.notes.map { ["text": .string($0)] })
        }
    }
}
