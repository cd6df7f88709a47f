/// HL7 table 0357 (message error condition codes): what ERR-3 says about a message that cannot be taken.
package struct HL7ErrorCode: Hashable, Sendable, CustomStringConvertible {
    package let code: Int
    package let text: String

    package static let segmentSequence = HL7ErrorCode(code: 100, text: "Segment sequence error")
    package static let requiredFieldMissing = HL7ErrorCode(code: 101, text: "Required field missing")
    package static let dataType = HL7ErrorCode(code: 102, text: "Data type error")
    package static let tableValueNotFound = HL7ErrorCode(code: 103, text: "Table value not found")
    package static let unsupportedMessageType = HL7ErrorCode(code: 200, text: "Unsupported message type")
    package static let unsupportedEventCode = HL7ErrorCode(code: 201, text: "Unsupported event code")
    package static let unsupportedProcessingID = HL7ErrorCode(code: 202, text: "Unsupported processing id")
    package static let unsupportedVersionID = HL7ErrorCode(code: 203, text: "Unsupported version id")
    package static let applicationInternal = HL7ErrorCode(code: 207, text: "Application internal error")

    package var description: String { "\(code) \(text)" }
}

/// Where in a message a problem is, as ERR-2 (ERL) names it: segment id, its occurrence in the
/// message (1-based), field, repetition, component and subcomponent (all 1-based, 0 = not given).
package struct HL7Location: Hashable, Sendable, CustomStringConvertible {
    package var segment: String
    package var sequence: Int
    package var field: Int
    package var repetition: Int
    package var component: Int
    package var subcomponent: Int

    package init(segment: String, sequence: Int = 1, field: Int = 0, repetition: Int = 0, component: Int = 0, subcomponent: Int = 0) {
        self.segment = segment
        self.sequence = sequence
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    /// `OBX[3]-5.2`: the segment (with its occurrence when not the first), field, component.
    package var description: String {
        var text = segment
        if sequence > 1 { text += "[\(sequence)]" }
        guard field > 0 else { return text }
        text += "-\(field)"
        if repetition > 1 { text += "(\(repetition))" }
        if component > 0 { text += ".\(component)" }
        if subcomponent > 0 { text += ".\(subcomponent)" }
        return text
    }
}

/// Why a message cannot be taken: the table 0357 code, where, and a reason without patient data.
package struct HL7Error: Error, Hashable, Sendable, CustomStringConvertible {
    package var code: HL7ErrorCode
    package var location: HL7Location?
    package var reason: String

    package init(_ code: HL7ErrorCode, at location: HL7Location?, _ reason: String) {
        self.code = code
        self.location = location
        self.reason = reason
    }

    package var description: String {
        (location.map { "\($0): " } ?? "") + reason
    }
}
