/// HL7 table 0357 (message error condition codes): what ERR-3 says about a message that cannot be taken.
public struct HL7ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let code: Int
    public let text: String

    public static let segmentSequence = HL7ErrorCode(code: 100, text: "Segment sequence error")
    public static let requiredFieldMissing = HL7ErrorCode(code: 101, text: "Required field missing")
    public static let dataType = HL7ErrorCode(code: 102, text: "Data type error")
    public static let tableValueNotFound = HL7ErrorCode(code: 103, text: "Table value not found")
    public static let unsupportedMessageType = HL7ErrorCode(code: 200, text: "Unsupported message type")
    public static let unsupportedEventCode = HL7ErrorCode(code: 201, text: "Unsupported event code")
    public static let unsupportedProcessingID = HL7ErrorCode(code: 202, text: "Unsupported processing id")
    public static let unsupportedVersionID = HL7ErrorCode(code: 203, text: "Unsupported version id")
    public static let applicationInternal = HL7ErrorCode(code: 207, text: "Application internal error")

    public var description: String { "\(code) \(text)" }
}

/// Where in a message a problem is, as ERR-2 (ERL) names it: segment id, its occurrence in the
/// message (1-based), field, repetition, component and subcomponent (all 1-based, 0 = not given).
public struct HL7Location: Hashable, Sendable, CustomStringConvertible {
    public var segment: String
    public var sequence: Int
    public var field: Int
    public var repetition: Int
    public var component: Int
    public var subcomponent: Int

    public init(segment: String, sequence: Int = 1, field: Int = 0, repetition: Int = 0, component: Int = 0, subcomponent: Int = 0) {
        self.segment = segment
        self.sequence = sequence
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    /// `OBX[3]-5.2`: the segment (with its occurrence when not the first), field, component.
    public var description: String {
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
public struct HL7Error: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: HL7ErrorCode
    public var location: HL7Location?
    public var reason: String

    public init(_ code: HL7ErrorCode, at location: HL7Location?, _ reason: String) {
        self.code = code
        self.location = location
        self.reason = reason
    }

    public var description: String {
        (location.map { "\($0): " } ?? "") + reason
    }
}
