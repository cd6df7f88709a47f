/// How a point's registers (or bit) are interpreted.
package enum RegisterValueType: Sendable, Hashable, CustomStringConvertible {
    case int16, uint16, int32, uint32, int64, uint64, float32, float64
    /// ASCII text, two characters per register, first character in the high byte; trailing NULs
    /// and spaces are trimmed.
    case string(registers: Int)
    /// One bit: of a register (`index` 0 = least significant), or a coil / discrete input (`index` nil).
    case bit(index: Int?)

    /// Parses `int16` … `float64`, `string` (one register; `string[N]` for N registers) and
    /// `bit` / `bool` (a coil or discrete input; `bit[N]` for bit N of a register). Case-insensitive.
    package init?(parsing text: String) {
        let lower = text.lowercased()
        switch lower {
        case "int16": self = .int16
        case "uint16": self = .uint16
        case "int32": self = .int32
        case "uint32": self = .uint32
        case "int64": self = .int64
        case "uint64": self = .uint64
        case "float32", "float": self = .float32
        case "float64", "double": self = .float64
        case "string": self = .string(registers: 1)
        case "bit", "bool": self = .bit(index: nil)
        default:
            guard let open = lower.firstIndex(of: "["), lower.hasSuffix("]"),
                  let number = Int(lower[lower.index(after: open)..<lower.index(before: lower.endIndex)])
            else { return nil }
            switch lower[..<open] {
            case "string" where (1...125).contains(number): self = .string(registers: number)
            case "bit" where (0...15).contains(number): self = .bit(index: number)
            default: return nil
            }
        }
    }

    /// Registers one value occupies; a coil or discrete bit counts as one.
    package var registerCount: Int {
        switch self {
        case .int16, .uint16, .bit: 1
        case .int32, .uint32, .float32: 2
        case .int64, .uint64, .float64: 4
        case .string(let registers): registers
        }
    }

    /// Whether this type reads a coil or discrete input rather than registers.
    package var isTableBit: Bool {
        if case .bit(nil) = self { return true }
        return false
    }

    package var description: String {
        switch self {
        case .int16: "int16"
        case .uint16: "uint16"
        case .int32: "int32"
        case .uint32: "uint32"
        case .int64: "int64"
        case .uint64: "uint64"
        case .float32: "float32"
        case .float64: "float64"
        case .string(let registers): "string[\(registers)]"
        case .bit(let index): index.map { "bit[\($0)]" } ?? "bit"
        }
    }
}

/// Wire order of a value's bytes, with Telegraf's names: `A` is the most significant byte.
///
/// Four orders cover every width: big-endian (`AB`, `ABCD`, `ABCDEFGH`), bytes swapped inside each
/// register (`BA`, `BADC`, `BADCFEHG`), registers in reverse order (`CDAB`, `GHEFCDAB`) and fully
/// little-endian (`DCBA`, `HGFEDCBA`). A 4-letter name on a 64-bit value means its 8-letter
/// counterpart and on a 16-bit value its 2-letter one, as in Telegraf.
package enum ByteOrder: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case abcd, badc, cdab, dcba

    package init?(parsing text: String) {
        switch text.uppercased() {
        case "AB", "ABCD", "ABCDEFGH", "BIG", "BIG-ENDIAN": self = .abcd
        case "BA", "BADC", "BADCFEHG": self = .badc
        case "CDAB", "GHEFCDAB": self = .cdab
        case "DCBA", "HGFEDCBA", "LITTLE", "LITTLE-ENDIAN": self = .dcba
        default: return nil
        }
    }

    /// Bytes swapped inside each register.
    var swapsBytes: Bool { self == .badc || self == .dcba }
    /// Registers in reverse order (low word first).
    var reversesRegisters: Bool { self == .cdab || self == .dcba }

    /// Telegraf's name of this order for a value of `registers` registers.
    package func name(registers: Int) -> String {
        switch (self, registers) {
        case (.abcd, 1), (.cdab, 1): "AB"
        case (.badc, 1), (.dcba, 1): "BA"
        case (.abcd, 4): "ABCDEFGH"
        case (.badc, 4): "BADCFEHG"
        case (.cdab, 4): "GHEFCDAB"
        case (.dcba, 4): "HGFEDCBA"
        case (.abcd, _): "ABCD"
        case (.badc, _): "BADC"
        case (.cdab, _): "CDAB"
        case (.dcba, _): "DCBA"
        }
    }

    package var description: String { name(registers: 2) }
}
