/// SMP's IO capability (Vol 3 Part H §3.5.1); a struct so unknown values round-trip.
struct IOCapability: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    var rawValue: UInt8
    static let displayOnly = IOCapability(rawValue: 0x00)
    static let displayYesNo = IOCapability(rawValue: 0x01)
    static let keyboardOnly = IOCapability(rawValue: 0x02)
    static let noInputNoOutput = IOCapability(rawValue: 0x03)
    static let keyboardDisplay = IOCapability(rawValue: 0x04)

    var description: String {
        switch self {
        case .displayOnly: "DisplayOnly"
        case .displayYesNo: "DisplayYesNo"
        case .keyboardOnly: "KeyboardOnly"
        case .noInputNoOutput: "NoInputNoOutput"
        case .keyboardDisplay: "KeyboardDisplay"
        default: "IO capability 0x\(String(rawValue, radix: 16))"
        }
    }
}

/// The AuthReq field: bonding flags, MITM, Secure Connections, keypress, CT2.
struct AuthenticationRequirements: OptionSet, Hashable, Sendable {
    var rawValue: UInt8
    static let bonding = AuthenticationRequirements(rawValue: 0x01)
    static let mitm = AuthenticationRequirements(rawValue: 0x04)
    static let secureConnections = AuthenticationRequirements(rawValue: 0x08)
    static let keypress = AuthenticationRequirements(rawValue: 0x10)
    static let ct2 = AuthenticationRequirements(rawValue: 0x20)

    /// The two-bit bonding flags field says "bonding" only as 0b01.
    var requestsBonding: Bool { rawValue & 0x03 == 0x01 }
}

/// Which keys a side distributes after the link is encrypted.
struct KeyDistribution: OptionSet, Hashable, Sendable {
    var rawValue: UInt8
    /// LTK + EDIV/Rand (legacy pairing only; ignored with Secure Connections).
    static let encryptionKey = KeyDistribution(rawValue: 0x01)
    /// IRK + identity address.
    static let identityKey = KeyDistribution(rawValue: 0x02)
    /// CSRK.
    static let signingKey = KeyDistribution(rawValue: 0x04)
    static let linkKey = KeyDistribution(rawValue: 0x08)
}

/// Pairing Failed reasons (Vol 3 Part H §3.5.5), named as the specification names them.
package struct PairingFailureReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    package var rawValue: UInt8
    package init(rawValue: UInt8) { self.rawValue = rawValue }

    package static let passkeyEntryFailed = PairingFailureReason(rawValue: 0x01)
    package static let oobNotAvailable = PairingFailureReason(rawValue: 0x02)
    package static let authenticationRequirements = PairingFailureReason(rawValue: 0x03)
    package static let confirmValueFailed = PairingFailureReason(rawValue: 0x04)
    package static let pairingNotSupported = PairingFailureReason(rawValue: 0x05)
    package static let encryptionKeySize = PairingFailureReason(rawValue: 0x06)
    package static let commandNotSupported = PairingFailureReason(rawValue: 0x07)
    package static let unspecifiedReason = PairingFailureReason(rawValue: 0x08)
    package static let repeatedAttempts = PairingFailureReason(rawValue: 0x09)
    package static let invalidParameters = PairingFailureReason(rawValue: 0x0A)
    package static let dhKeyCheckFailed = PairingFailureReason(rawValue: 0x0B)
    package static let numericComparisonFailed = PairingFailureReason(rawValue: 0x0C)
    package static let pairingInProgress = PairingFailureReason(rawValue: 0x0D)
    package static let crossTransportKeyNotAllowed = PairingFailureReason(rawValue: 0x0E)
    package static let keyRejected = PairingFailureReason(rawValue: 0x0F)
    package static let busy = PairingFailureReason(rawValue: 0x10)

    package var name: String {
        switch self {
        case .passkeyEntryFailed: "passkey entry failed"
        case .oobNotAvailable: "OOB not available"
        case .authenticationRequirements: "authentication requirements"
        case .confirmValueFailed: "confirm value failed"
        case .pairingNotSupported: "pairing not supported"
        case .encryptionKeySize: "encryption key size"
        case .commandNotSupported: "command not supported"
        case .unspecifiedReason: "unspecified reason"
        case .repeatedAttempts: "repeated attempts"
        case .invalidParameters: "invalid parameters"
        case .dhKeyCheckFailed: "DHKey check failed"
        case .numericComparisonFailed: "numeric comparison failed"
        case .pairingInProgress: "BR/EDR pairing in progress"
        case .crossTransportKeyNotAllowed: "cross-transport key derivation not allowed"
        case .keyRejected: "key rejected"
        case .busy: "busy"
        default: "reserved reason"
        }
    }

    package var description: String { "\(name) (0x\(rawValue < 0x10 ? "0" : "")\(String(rawValue, radix: 16)))" }
}

/// The Pairing Request / Pairing Response parameters.
struct PairingFeatures: Hashable, Sendable {
    var ioCapability: IOCapability
    var oobDataPresent: Bool
    var authentication: AuthenticationRequirements
    var maximumKeySize: UInt8
    var initiatorKeys: KeyDistribution
    var responderKeys: KeyDistribution

    /// The six parameter octets as they follow the code in the PDU.
    var octets: [UInt8] {
        [ioCapability.rawValue, oobDataPresent ? 1 : 0, authentication.rawValue, maximumKeySize,
         initiatorKeys.rawValue, responderKeys.rawValue]
    }

    /// The 3-octet IOcap input of f6: IO capability, OOB flag, AuthReq (wire order).
    var f6IOCap: [UInt8] { [ioCapability.rawValue, oobDataPresent ? 1 : 0, authentication.rawValue] }
}

/// One Security Manager Protocol PDU on the L2CAP SMP channel (CID 0x0006).
///
/// Keys travel in these PDUs, so the type deliberately has no description that prints them.
enum SecurityManagerPDU: Equatable, Sendable {
    case pairingRequest(PairingFeatures)
    case pairingResponse(PairingFeatures)
    case pairingConfirm([UInt8])
    case pairingRandom([UInt8])
    case pairingFailed(PairingFailureReason)
    case encryptionInformation(longTermKey: [UInt8])
    case centralIdentification(ediv: UInt16, rand: UInt64)
    case identityInformation(irk: [UInt8])
    case identityAddressInformation(address: BluetoothAddress)
    case signingInformation(csrk: [UInt8])
    case securityRequest(AuthenticationRequirements)
    case pairingPublicKey([UInt8])
    case pairingDHKeyCheck([UInt8])
    case keypressNotification(UInt8)
    /// A code this implementation does not know (answered with "command not supported").
    case unknown(code: UInt8)

    static let channel: UInt16 = 0x0006

    var code: UInt8 {
        switch self {
        case .pairingRequest: 0x01
        case .pairingResponse: 0x02
        case .pairingConfirm: 0x03
        case .pairingRandom: 0x04
        case .pairingFailed: 0x05
        case .encryptionInformation: 0x06
        case .centralIdentification: 0x07
        case .identityInformation: 0x08
        case .identityAddressInformation: 0x09
        case .signingInformation: 0x0A
        case .securityRequest: 0x0B
        case .pairingPublicKey: 0x0C
        case .pairingDHKeyCheck: 0x0D
        case .keypressNotification: 0x0E
        case .unknown(let code): code
        }
    }

    /// The PDU's name for logs (never its contents).
    var name: String {
        switch self {
        case .pairingRequest: "Pairing Request"
        case .pairingResponse: "Pairing Response"
        case .pairingConfirm: "Pairing Confirm"
        case .pairingRandom: "Pairing Random"
        case .pairingFailed: "Pairing Failed"
        case .encryptionInformation: "Encryption Information"
        case .centralIdentification: "Central Identification"
        case .identityInformation: "Identity Information"
        case .identityAddressInformation: "Identity Address Information"
        case .signingInformation: "Signing Information"
        case .securityRequest: "Security Request"
        case .pairingPublicKey: "Pairing Public Key"
        case .pairingDHKeyCheck: "Pairing DHKey Check"
        case .keypressNotification: "Keypress Notification"
        case .unknown(let code): "SMP code 0x\(String(code, radix: 16))"
        }
    }

    var bytes: [UInt8] {
        let body: [UInt8] =
            switch self {
            case .pairingRequest(let f), .pairingResponse(let f): f.octets
            case .pairingConfirm(let v), .pairingRandom(let v), .pairingPublicKey(let v), .pairingDHKeyCheck(let v): v
            case .pairingFailed(let reason): [reason.rawValue]
            case .encryptionInformation(let ltk): ltk
            case .centralIdentification(let ediv, let rand): [UInt8(ediv & 0xFF), UInt8(ediv >> 8)] + (0..<8).map { UInt8(truncatingIfNeeded: rand >> (8 * UInt64($0))) }
            case .identityInformation(let irk): irk
            case .identityAddressInformation(let address): [address.type.commandValue.rawValue] + address.littleEndianBytes
            case .signingInformation(let csrk): csrk
            case .securityRequest(let auth): [auth.rawValue]
            case .keypressNotification(let kind): [kind]
            case .unknown: []
            }
        return [code] + body
    }

    /// Parses one PDU; a known code with the wrong length is an error ("invalid parameters").
    init(bytes: [UInt8]) throws(SecurityManagerPDUError) {
        guard let code = bytes.first else { throw SecurityManagerPDUError(code: nil, length: 0) }
        let body = Array(bytes.dropFirst())
        func need(_ count: Int) throws(SecurityManagerPDUError) {
            guard body.count == count else { throw SecurityManagerPDUError(code: code, length: bytes.count) }
        }
        func features() -> PairingFeatures {
            PairingFeatures(
                ioCapability: IOCapability(rawValue: body[0]), oobDataPresent: body[1] != 0,
                authentication: AuthenticationRequirements(rawValue: body[2]), maximumKeySize: body[3],
                initiatorKeys: KeyDistribution(rawValue: body[4]), responderKeys: KeyDistribution(rawValue: body[5]))
        }
        switch code {
        case 0x01: try need(6); self = .pairingRequest(features())
        case 0x02: try need(6); self = .pairingResponse(features())
        case 0x03: try need(16); self = .pairingConfirm(body)
        case 0x04: try need(16); self = .pairingRandom(body)
        case 0x05: try need(1); self = .pairingFailed(PairingFailureReason(rawValue: body[0]))
        case 0x06: try need(16); self = .encryptionInformation(longTermKey: body)
        case 0x07: try need(10); self = .centralIdentification(
                ediv: UInt16(body[0]) | UInt16(body[1]) << 8,
                rand: body[2...].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        case 0x08: try need(16); self = .identityInformation(irk: body)
        case 0x09:
            try need(7)
            self = .identityAddressInformation(address: BluetoothAddress(littleEndian: body[1...], type: body[0] == 1 ? .random : .public))
        case 0x0A: try need(16); self = .signingInformation(csrk: body)
        case 0x0B: try need(1); self = .securityRequest(AuthenticationRequirements(rawValue: body[0]))
        case 0x0C: try need(64); self = .pairingPublicKey(body)
        case 0x0D: try need(16); self = .pairingDHKeyCheck(body)
        case 0x0E: try need(1); self = .keypressNotification(body[0])
        default: self = .unknown(code: code)
        }
    }
}

/// An SMP PDU that cannot be parsed: names the code and length, never the octets.
struct SecurityManagerPDUError: Error, Equatable, Sendable, CustomStringConvertible {
    var code: UInt8?
    var length: Int
    var description: String {
        guard let code else { return "empty SMP PDU" }
        return "SMP PDU code 0x\(String(code, radix: 16)) with invalid length \(length)"
    }
}
