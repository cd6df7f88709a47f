#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The eight functions Azure MedTech (microsoft/iomt-fhir, Microsoft.Health.Expressions)
/// registers, with its semantics: two JSON integers use 64-bit integer arithmetic (add, subtract
/// and multiply wrap like C# unchecked code, divide truncates, pow converts back and fails on
/// overflow); any float operand makes the operation IEEE double.
extension JMESPath.Call {
    func runMedTech() throws(JMESPathError) -> JSONValue {
        switch function {
        case .add, .subtract, .multiply, .divide, .pow:
            return try arithmetic(try number(0), try number(1))
        case .insertString:
            return try insertString()
        case .fromUnixTimestamp:
            let seconds = try integer(0)
            // System.DateTimeOffset's range: 0001-01-01 to 9999-12-31.
            guard seconds >= -62_135_596_800 && seconds <= 253_402_300_799 else {
                throw JMESPathError(.outOfRange, "fromUnixTimestamp() argument \(seconds) is outside years 1 to 9999")
            }
            return .string(Self.iso8601(millisecondsSinceEpoch: seconds * 1000))
        case .fromUnixTimestampMs:
            let milliseconds = try integer(0)
            guard milliseconds >= -62_135_596_800_000 && milliseconds <= 253_402_300_799_999 else {
                throw JMESPathError(.outOfRange, "fromUnixTimestampMs() argument \(milliseconds) is outside years 1 to 9999")
            }
            return .string(Self.iso8601(millisecondsSinceEpoch: milliseconds))
        default:
            throw JMESPathError(.unknownFunction, "\(function.rawValue)() is not a MedTech function")
        }
    }

    private func integer(_ i: Int) throws(JMESPathError) -> Int64 {
        let value = try argument(i)
        guard case .int(let n) = value else {
            throw typeError(i, expected: "an integer", got: value)
        }
        return n
    }

    private func arithmetic(_ left: JSONValue, _ right: JSONValue) throws(JMESPathError) -> JSONValue {
        if case .int(let a) = left, case .int(let b) = right {
            switch function {
            case .add: return .int(a &+ b)
            case .subtract: return .int(a &- b)
            case .multiply: return .int(a &* b)
            case .divide:
                guard b != 0 else { throw JMESPathError(.divideByZero, "divide() by integer zero") }
                guard !(a == .min && b == -1) else {
                    throw JMESPathError(.overflow, "divide(\(a), \(b)) does not fit in a 64-bit integer")
                }
                return .int(a / b)
            default:
                // C# Convert.ToInt64(Math.Pow(a, b)): rounds half to even, fails out of range.
                let rounded = Self.power(Double(a), Double(b)).rounded(.toNearestOrEven)
                guard rounded >= -9.223372036854775808e18 && rounded < 9.223372036854775808e18 else {
                    throw JMESPathError(.overflow, "pow(\(a), \(b)) does not fit in a 64-bit integer")
                }
                return .int(Int64(rounded))
            }
        }
        let a = left.doubleValue ?? 0
        let b = right.doubleValue ?? 0
        switch function {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide: return .double(a / b)
        default: return .double(Self.power(a, b))
        }
    }

    private static func power(_ base: Double, _ exponent: Double) -> Double {
        #if canImport(Darwin) || canImport(Glibc) || canImport(Musl)
        return pow(base, exponent)
        #else
        return Double.nan
        #endif
    }

    /// Inserts at a position counted in Unicode scalars (upstream counts UTF-16 units; the two
    /// agree outside the astral planes).
    private func insertString() throws(JMESPathError) -> JSONValue {
        let original = try string(0)
        let insertion = try string(1)
        let position = try integer(2)
        let scalars = original.unicodeScalars
        guard position >= 0 && position <= Int64(scalars.count) else {
            throw JMESPathError(
                .outOfRange,
                "insertString() position \(position) is outside 0...\(scalars.count) of the original string")
        }
        let split = scalars.index(scalars.startIndex, offsetBy: Int(position))
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[..<split])
        result.append(contentsOf: insertion.unicodeScalars)
        result.append(contentsOf: scalars[split...])
        return .string(String(result))
    }

    /// `2021-07-20T16:38:00Z`, with `.fff` only when the milliseconds are not zero.
    static func iso8601(millisecondsSinceEpoch ms: Int64) -> String {
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        // Howard Hinnant's civil-from-days (proleptic Gregorian).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let millisecond = msOfDay % 1000

        // Written into the string's storage: device templates call this for every reading, and
        // interpolating padded pieces cost more than the rest of a CalculatedContent template.
        if (0...9999).contains(year) {
            return String(unsafeUninitializedCapacity: 24) { buffer in
                func put(_ value: Int64, _ width: Int, at offset: Int) {
                    var v = value
                    for i in stride(from: offset + width - 1, through: offset, by: -1) {
                        buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                        v /= 10
                    }
                }
                put(year, 4, at: 0)
                buffer[4] = UInt8(ascii: "-")
                put(month, 2, at: 5)
                buffer[7] = UInt8(ascii: "-")
                put(day, 2, at: 8)
                buffer[10] = UInt8(ascii: "T")
                put(msOfDay / 3_600_000, 2, at: 11)
                buffer[13] = UInt8(ascii: ":")
                put(msOfDay / 60_000 % 60, 2, at: 14)
                buffer[16] = UInt8(ascii: ":")
                put(msOfDay / 1000 % 60, 2, at: 17)
                guard millisecond != 0 else {
                    buffer[19] = UInt8(ascii: "Z")
                    return 20
                }
                buffer[19] = UInt8(ascii: ".")
                put(millisecond, 3, at: 20)
                buffer[23] = UInt8(ascii: "Z")
                return 24
            }
        }

        func pad(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        text += "\(pad(msOfDay / 3_600_000, 2)):\(pad(msOfDay / 60_000 % 60, 2)):\(pad(msOfDay / 1000 % 60, 2))"
        if millisecond != 0 { text += ".\(pad(millisecond, 3))" }
        return text + "Z"
    }
}
