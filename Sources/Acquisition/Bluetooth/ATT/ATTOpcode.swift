/// ATT opcodes (Core Vol 3 Part F 3.4.8) the central sends, answers or receives.
enum ATTOpcode {
    static let errorResponse: UInt8 = 0x01
    static let exchangeMTURequest: UInt8 = 0x02
    static let exchangeMTUResponse: UInt8 = 0x03
    static let findInformationRequest: UInt8 = 0x04
    static let findInformationResponse: UInt8 = 0x05
    static let findByTypeValueRequest: UInt8 = 0x06
    static let readByTypeRequest: UInt8 = 0x08
    static let readByTypeResponse: UInt8 = 0x09
    static let readRequest: UInt8 = 0x0A
    static let readResponse: UInt8 = 0x0B
    static let readBlobRequest: UInt8 = 0x0C
    static let readBlobResponse: UInt8 = 0x0D
    static let readMultipleRequest: UInt8 = 0x0E
    static let readByGroupTypeRequest: UInt8 = 0x10
    static let readByGroupTypeResponse: UInt8 = 0x11
    static let writeRequest: UInt8 = 0x12
    static let writeResponse: UInt8 = 0x13
    static let prepareWriteRequest: UInt8 = 0x16
    static let executeWriteRequest: UInt8 = 0x18
    static let handleValueNotification: UInt8 = 0x1B
    static let handleValueIndication: UInt8 = 0x1D
    static let handleValueConfirmation: UInt8 = 0x1E
    static let readMultipleVariableRequest: UInt8 = 0x20
    static let multipleHandleValueNotification: UInt8 = 0x23
    static let writeCommand: UInt8 = 0x52
    static let signedWriteCommand: UInt8 = 0xD2

    /// Requests get exactly one response; commands (bit 6) and notifications get none.
    static func isResponse(_ opcode: UInt8) -> Bool {
        opcode == errorResponse || [0x03, 0x05, 0x07, 0x09, 0x0B, 0x0D, 0x0F, 0x11, 0x13, 0x17, 0x19, 0x21].contains(opcode)
    }

    static func isCommand(_ opcode: UInt8) -> Bool { opcode & 0x40 != 0 }
}

/// ATT error codes (Core Vol 3 Part F 3.4.1.1).
enum ATTErrorCode {
    static let invalidHandle: UInt8 = 0x01
    static let readNotPermitted: UInt8 = 0x02
    static let writeNotPermitted: UInt8 = 0x03
    static let invalidPDU: UInt8 = 0x04
    static let insufficientAuthentication: UInt8 = 0x05
    static let requestNotSupported: UInt8 = 0x06
    static let invalidOffset: UInt8 = 0x07
    static let attributeNotFound: UInt8 = 0x0A
    static let attributeNotLong: UInt8 = 0x0B
    static let insufficientEncryptionKeySize: UInt8 = 0x0C
    static let insufficientEncryption: UInt8 = 0x0F
    static let unsupportedGroupType: UInt8 = 0x10

    /// The errors a paired, encrypted link answers: raise the link's security, then ask again.
    /// Insufficient Authorization (0x08) is not one of them: authorization is the server
    /// application's decision (Core Vol 3 Part C 10.5), which pairing does not change, so
    /// retrying after pairing would only repeat the refusal.
    static func asksForSecurity(_ code: UInt8) -> Bool {
        code == insufficientAuthentication || code == insufficientEncryptionKeySize || code == insufficientEncryption
    }

    static func describe(_ code: UInt8) -> String {
        let name: String
        switch code {
        case 0x01: name = "invalid handle"
        case 0x02: name = "read not permitted"
        case 0x03: name = "write not permitted"
        case 0x04: name = "invalid PDU"
        case 0x05: name = "insufficient authentication"
        case 0x06: name = "request not supported"
        case 0x07: name = "invalid offset"
        case 0x08: name = "insufficient authorization"
        case 0x0A: name = "attribute not found"
        case 0x0B: name = "attribute not long"
        case 0x0C: name = "insufficient encryption key size"
        case 0x0D: name = "invalid attribute value length"
        case 0x0E: name = "unlikely error"
        case 0x0F: name = "insufficient encryption"
        case 0x10: name = "unsupported group type"
        case 0x11: name = "insufficient resources"
        case 0xFD: name = "CCCD improperly configured"
        case 0xFE: name = "procedure already in progress"
        case 0xFF: name = "out of range"
        default: name = "application error"
        }
        return "\(name) (0x\(hex2(code)))"
    }

    static func response(request: UInt8, handle: UInt16, code: UInt8) -> [UInt8] {
        [ATTOpcode.errorResponse, request] + le16(handle) + [code]
    }
}
