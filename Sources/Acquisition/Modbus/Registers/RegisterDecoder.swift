package import JSONQuery

/// A decoded point value, before or after scaling.
package enum RegisterValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bool(Bool)

    /// `raw × scale + offset`. Integers stay integers when the scaling is the identity; scaled
    /// integers are rounded to the decimals of `scale` and `offset` so that 201 × 0.1 reads 20.1.
    /// Text and bits are never scaled.
    package func scaled(by scale: Double, offset: Double) -> RegisterValue {
        if scale == 1, offset == 0 { return self }
        let raw: Double
        let exact: Bool
        switch self {
        case .int(let value): raw = Double(value); exact = true
        case .uint(let value): raw = Double(value); exact = true
        case .double(let value): raw = value; exact = false
        case .string, .bool: return self
        }
        let value = raw * scale + offset
        guard exact, let decimals = Self.decimals(of: scale), let offsetDecimals = Self.decimals(of: offset) else {
            return .double(value)
        }
        let power = Self.powerOfTen(max(decimals, offsetDecimals))
        let rounded = (value * power).rounded() / power
        return .double(rounded.isFinite ? rounded : value)
    }

    /// The JSON member value of a device message: numbers as numbers (an unsigned value beyond
    /// Int64 as a double), text as text, bits as booleans.
    package var json: JSONValue {
        switch self {
        case .int(let value): .int(value)
        case .uint(let value): value <= UInt64(Int64.max) ? .int(Int64(value)) : .double(Double(value))
        case .double(let value): value.isFinite ? .double(value) : .null
        case .string(let value): .string(value)
        case .bool(let value): .bool(value)
        }
    }

    package var description: String {
        switch self {
        case .int(let value): String(value)
        case .uint(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): value
        case .bool(let value): value ? "true" : "false"
        }
    }

    /// Decimal places of `value` when it has at most 12 (0.1 → 1, 0.25 → 2, 3 → 0).
    static func decimals(of value: Double) -> Int? {
        guard value.isFinite else { return nil }
        for places in 0...12 {
            let shifted = value * powerOfTen(places)
            if abs(shifted - shifted.rounded()) <= 1e-9 * max(1, abs(shifted)) { return places }
        }
        return nil
    }

    static func powerOfTen(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent { result *= 10 }
        return result
    }
}

/// Why registers could not be decoded as the register map says.
package struct RegisterDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Decodes values from the raw 16-bit register words (host-order values of the big-endian
/// registers, as libmodbus hands them over) — never through libmodbus' float helpers, whose
/// byte orders differ between builds.
package enum RegisterDecoder {
    /// Decodes one value of `type` from exactly `type.registerCount` words.
    package static func decode(words: some Collection<UInt16>, type: RegisterValueType, order: ByteOrder = .abcd) throws(RegisterDecodingError) -> RegisterValue {
        guard words.count == type.registerCount else {
            throw RegisterDecodingError("\(type) needs \(type.registerCount) register(s), got \(words.count)")
        }
        switch type {
        case .int16: return .int(Int64(Int16(bitPattern: UInt16(truncatingIfNeeded: orderedBits(words, order: order)))))
        case .uint16: return .uint(orderedBits(words, order: order))
        case .int32: return .int(Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: orderedBits(words, order: order)))))
        case .uint32: return .uint(orderedBits(words, order: order))
        case .int64: return .int(Int64(bitPattern: orderedBits(words, order: order)))
        case .uint64: return .uint(orderedBits(words, order: order))
        case .float32:
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: orderedBits(words, order: order)))
            // The shortest decimal that reads back as this float: 21.3f is 21.3, not 21.299999237.
            return .double(value.isFinite ? Double(value.description) ?? Double(value) : Double(value))
        case .float64: return .double(Double(bitPattern: orderedBits(words, order: order)))
        case .string:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(words.count * 2)
            for word in words {
                let high = UInt8(word >> 8), low = UInt8(word & 0xFF)
                if order.swapsBytes { bytes += [low, high] } else { bytes += [high, low] }
            }
            // Text ends at the first NUL; trailing spaces are padding too.
            if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
            while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
            return .string(String(decoding: bytes, as: UTF8.self))
        case .bit(let index):
            guard let index, let word = words.first else {
                throw RegisterDecodingError("a coil or discrete bit is read from bits, not registers")
            }
            let value = order.swapsBytes ? word.byteSwapped : word
            return .bool(value >> UInt16(index) & 1 == 1)
        }
    }

    /// Decodes a coil or discrete input.
    package static func decode(bit: Bool, type: RegisterValueType) throws(RegisterDecodingError) -> RegisterValue {
        guard type.isTableBit else { throw RegisterDecodingError("\(type) is read from registers, not from coils or discrete inputs") }
        return .bool(bit)
    }

    /// The value's bits, most significant first, after undoing the wire order.
    static func orderedBits(_ words: some Collection<UInt16>, order: ByteOrder) -> UInt64 {
        var result: UInt64 = 0
        let sequence: [UInt16] = order.reversesRegisters ? words.reversed() : Array(words)
        for word in sequence {
            let value = order.swapsBytes ? word.byteSwapped : word
            result = result << 16 | UInt64(value)
        }
        return result
    }
}
