import CModbus

#if canImport(Glibc)
import Glibc
#endif

/// What a link must do before its next request, after a failed one.
enum LinkRecovery: Sendable, Equatable {
    /// The link is in step: send the next request as it is.
    case none
    /// TCP: a late reply may still arrive on this connection; close it and connect again.
    case reconnect
    /// RTU: the unit's late reply may still arrive on the line; its next request waits until it
    /// would have, then discards it.
    case resync
}

/// How a failed libmodbus call is reported and what it leaves behind on the link. Pure: decided
/// from the error code and the transport alone.
struct LinkFailure: Sendable, Equatable {
    var kind: ModbusError.Kind
    var recovery: LinkRecovery
    /// A short cause for the message, e.g. `server device busy (exception 6)`.
    var cause: String

    static func classify(code: Int32, serial: Bool) -> LinkFailure {
        // A reply may still be under way after these: re-establish step before the next request.
        let outOfStep: LinkRecovery = serial ? .resync : .reconnect
        let exceptionCode = Int(code) - Int(MODBUS_ENOBASE)
        if (1...11).contains(exceptionCode) {
            if let exception = ModbusException(rawValue: UInt8(exceptionCode)) {
                return LinkFailure(kind: .exception(exception), recovery: .none, cause: "\(exception) (exception \(exceptionCode))")
            }
            return LinkFailure(kind: .badReply, recovery: .none, cause: "exception \(exceptionCode), which the specification does not define")
        }
        switch code {
        case ETIMEDOUT:
            return LinkFailure(kind: .timeout, recovery: outOfStep, cause: "timeout")
        case CMB_EMBBADDATA, CMB_EMBBADCRC, CMB_EMBBADSLAVE, CMB_EMBBADEXC, CMB_EMBUNKEXC:
            return LinkFailure(kind: .badReply, recovery: outOfStep, cause: "bad reply: \(errorText(code))")
        case CMB_EMBMDATA, EINVAL:
            return LinkFailure(kind: .invalidRequest, recovery: .none, cause: "invalid request: \(errorText(code))")
        default:
            // Reset, broken pipe, closed or failed port: only a fresh connection can go on.
            return LinkFailure(kind: .connection, recovery: .reconnect, cause: "connection failed: \(errorText(code))")
        }
    }
}

/// libmodbus' text for its own codes, the C library's for system ones.
func errorText(_ code: Int32) -> String {
    guard let text = cmb_error_text(code) else { return "error \(code)" }
    return String(cString: text)
}
