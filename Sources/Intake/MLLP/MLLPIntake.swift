package import EdgeCore
package import HL7
import JSONQuery

/// What happened to one received frame, for health, metrics and the journal (no patient data).
package struct MLLPOutcome: Sendable, Equatable {
    /// MSH-4's namespace id (or `unknown`): the source the health entry is kept under.
    package var facility: String
    package var code: HL7AcknowledgementCode
    /// Observations the message carried (0 when it was not taken).
    package var observations: Int
    /// True when the store already held the message under its delivery key (a resend).
    package var duplicate: Bool
    /// Why it was not taken: a short reason naming where, never a value.
    package var error: String?
}

/// Turns one MLLP frame into the ACK to send back, delivering the message first: the ACK says AA
/// only once the sink has committed it. Errors in the content (HL7 table 0357's 1xx codes) are
/// AE; unsupported type, event, version or processing id (2xx), a facility that is not allowed, an
/// unknown profile, a frame above the size bound and a full store are AR, as HL7 v2 (2.9.2) uses
/// AR for what the receiver cannot take now or at all regardless of content: a sender resends an
/// AR'd message after its own retry interval, and a resend of a message already stored is
/// acknowledged AA again without a second copy (its delivery key is MSH-4 with MSH-10).
package struct MLLPIntake: Sendable {
    package var profile: ProfileID
    /// MSH-4 namespace ids allowed to send; empty: any.
    package var allowedFacilities: Set<String>
    package var maxMessageBytes: Int
    package var builder: HL7AcknowledgementBuilder
    let sink: any MessageSink
    let now: @Sendable () -> Timestamp
    let nextControlID: @Sendable () -> String

    package init(
        profile: ProfileID, allowedFacilities: Set<String>, maxMessageBytes: Int, sink: any MessageSink,
        builder: HL7AcknowledgementBuilder = HL7AcknowledgementBuilder(),
        now: @escaping @Sendable () -> Timestamp, nextControlID: @escaping @Sendable () -> String
    ) {
        self.profile = profile
        self.allowedFacilities = allowedFacilities
        self.maxMessageBytes = maxMessageBytes
        self.sink = sink
        self.builder = builder
        self.now = now
        self.nextControlID = nextControlID
    }

    /// The delivery key of a message: who sent it and its control id. Components and escapes are
    /// resolved so that a resend with different formatting of MSH-4 still matches.
    package static func deliveryKey(facility: String, controlID: String) -> String {
        "hl7v2:" + facility.count.description + ":" + facility + "|" + controlID
    }

    /// Handles one frame's payload and returns the ACK (ER7, without framing) and the outcome.
    package func handle(frame bytes: [UInt8], peer: String) async -> (ack: String, outcome: MLLPOutcome) {
        let header = HL7OriginalHeader(scanning: bytes)
        let facility = header.value(field: 4).isEmpty ? "unknown" : header.value(field: 4)
        func answer(_ code: HL7AcknowledgementCode, _ errors: [HL7Error], observations: Int = 0, duplicate: Bool = false) -> (String, MLLPOutcome) {
            let ack = builder.acknowledgement(to: header, code: code, errors: errors, controlID: nextControlID(), at: now())
            return (ack, MLLPOutcome(facility: facility, code: code, observations: observations, duplicate: duplicate,
                                     error: errors.first.map { "\($0.code.code) \($0.description)" }))
        }
        func refusal(_ error: HL7Error) -> (String, MLLPOutcome) {
            answer(error.code.code >= 200 ? .reject : .error, [error])
        }
        let message: HL7Message
        do {
            message = try ER7Parser().parse(bytes)
        } catch {
            return refusal(error)
        }
        if !allowedFacilities.isEmpty, !allowedFacilities.contains(message.header.field(4).value) {
            return answer(.reject, [HL7Error(.tableValueNotFound, at: HL7Location(segment: "MSH", field: 4), "this sending facility is not allowed to send here")])
        }
        let converted: PCD01Conversion.Result
        do {
            converted = try PCD01Conversion().convert(message)
        } catch {
            return refusal(error)
        }
        var payload: [UInt8] = []
        JSONWriter().write(converted.message, into: &payload)
        let device = DeviceMessage(
            profile: profile, transport: .mllp, sourceID: "mllp:" + facility, deviceID: converted.deviceID, payload: payload,
            deliveryKey: Self.deliveryKey(facility: message.header.field(4).value, controlID: message.controlID))
        switch await sink.deliver([device]) {
        case .accepted(let stored, let duplicates):
            return answer(.accept, [], observations: converted.observationCount, duplicate: stored == 0 && duplicates > 0)
        case .rejected(let refusal):
            return answer(.reject, [HL7Error(.applicationInternal, at: nil, "not taken: \(refusal.reason)")])
        case .retryLater(let refusal, let after):
            let seconds = max(1, after.components.seconds)
            return answer(.reject, [HL7Error(.applicationInternal, at: nil, "not stored (\(refusal.reason)); resend in \(seconds)s or later")])
        }
    }

    /// The ACK for a frame above `maxMessageBytes` (its head still names MSH-10).
    package func oversized(head: [UInt8]) -> (ack: String, outcome: MLLPOutcome) {
        let header = HL7OriginalHeader(scanning: head)
        let facility = header.value(field: 4).isEmpty ? "unknown" : header.value(field: 4)
        let error = HL7Error(.applicationInternal, at: nil, "the message is larger than this receiver's \(maxMessageBytes) bytes (hl7.maxMessageBytes)")
        let ack = builder.acknowledgement(to: header, code: .reject, errors: [error], controlID: nextControlID(), at: now())
        return (ack, MLLPOutcome(facility: facility, code: .reject, observations: 0, duplicate: false, error: "207 " + error.description))
    }
}
