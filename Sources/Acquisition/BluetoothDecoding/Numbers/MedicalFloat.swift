/// An IEEE 11073-20601 number: a decimal `mantissa × 10^exponent`, or one of the special values.
///
/// Kept as mantissa and exponent rather than a `Double` so that 36.5 stays 36.5 in the device
/// message, and so that unit changes by powers of ten (glucose kg/L → mg/dL) stay exact.
package enum MedicalFloat: Hashable, Sendable, CustomStringConvertible {
    case finite(mantissa: Int64, exponent: Int)
    /// Not a Number (0x07FF / 0x007FFFFF): the device has no valid value.
    case notANumber
    /// Not at this resolution (0x0800 / 0x00800000): the value does not fit the format.
    case notAtThisResolution
    case positiveInfinity
    case negativeInfinity
    /// Reserved for future use (0x0801 / 0x00800001).
    case reserved

    /// The value as a `Double`, or nil for the special values.
    package var doubleValue: Double? {
        guard case .finite(let mantissa, let exponent) = self else { return nil }
        if exponent == 0 { return Double(mantissa) }
        // 10^0...10^22 are exact doubles, so one multiplication or division rounds correctly.
        if (-22...22).contains(exponent), abs(mantissa) < (1 << 53) {
            let scale = powersOfTen[abs(exponent)]
            return exponent > 0 ? Double(mantissa) * scale : Double(mantissa) / scale
        }
        return Double("\(mantissa)e\(exponent)")
    }

    /// The name the conformance vectors and device messages give a special value
    /// (`NaN`, `NRes`, `+INF`, `-INF`, `RFU`), nil for a finite value.
    package var specialName: String? {
        switch self {
        case .finite: nil
        case .notANumber: "NaN"
        case .notAtThisResolution: "NRes"
        case .positiveInfinity: "+INF"
        case .negativeInfinity: "-INF"
        case .reserved: "RFU"
        }
    }

    package var description: String {
        if let specialName { return specialName }
        guard case .finite(let mantissa, let exponent) = self else { return "" }
        return exponent == 0 ? "\(mantissa)" : "\(mantissa)e\(exponent)"
    }

    /// The same quantity in a unit `10^power` times smaller (kg/L → mg/dL is `power: 5`).
    func scaled(byPowerOfTen power: Int) -> MedicalFloat {
        guard case .finite(let mantissa, let exponent) = self else { return self }
        return .finite(mantissa: mantissa, exponent: exponent + power)
    }

    /// A raw integer times a decimal resolution `step × 10^exponent` (weight: 5 × 10^-3 kg).
    static func scaled(_ raw: Int64, step: Int64 = 1, exponent: Int) -> MedicalFloat {
        .finite(mantissa: raw * step, exponent: exponent)
    }
}

private let powersOfTen: [Double] = (0...22).map { power in
    var value = 1.0
    for _ in 0..<power { value *= 10 }
    return value
}

/// The IEEE 11073-20601 number formats that Bluetooth SIG health characteristics carry.
package enum IEEE11073 {
    /// SFLOAT (16 bits): 4-bit signed exponent, 12-bit signed mantissa. Special values only with
    /// exponent 0 (0x17FF is the ordinary 20470).
    package static func sfloat(_ raw: UInt16) -> MedicalFloat {
        switch raw {
        case 0x07FF: return .notANumber
        case 0x0800: return .notAtThisResolution
        case 0x07FE: return .positiveInfinity
        case 0x0802: return .negativeInfinity
        case 0x0801: return .reserved
        default:
            let mantissa = Int64(raw & 0x0FFF)
            let exponent = Int(raw >> 12)
            return .finite(
                mantissa: mantissa >= 0x0800 ? mantissa - 0x1000 : mantissa,
                exponent: exponent >= 0x8 ? exponent - 0x10 : exponent)
        }
    }

    /// FLOAT (32 bits): 8-bit signed exponent, 24-bit signed mantissa.
    package static func float(_ raw: UInt32) -> MedicalFloat {
        switch raw {
        case 0x007F_FFFF: return .notANumber
        case 0x0080_0000: return .notAtThisResolution
        case 0x007F_FFFE: return .positiveInfinity
        case 0x0080_0002: return .negativeInfinity
        case 0x0080_0001: return .reserved
        default:
            let mantissa = Int64(raw & 0x00FF_FFFF)
            return .finite(
                mantissa: mantissa >= 0x0080_0000 ? mantissa - 0x0100_0000 : mantissa,
                exponent: Int(Int8(bitPattern: UInt8(raw >> 24))))
        }
    }
}
