// libFuzzer target: decoding Modbus register replies into point values (the words libmodbus hands
// over; the wire framing is libmodbus' own). Input: a type name line (`float32`, `string[4]`,
// `bit[3]`...), a byte-order line (`ABCD`, `CDAB`...), then the registers as big-endian byte pairs.
// The words are also decoded as every fixed-size type in every order, and scaled.
import LibFuzzerDriver
import Modbus

let fixedTypes: [RegisterValueType] = [.int16, .uint16, .int32, .uint32, .int64, .uint64, .float32, .float64, .string(registers: 3), .bit(index: 15), .bit(index: nil)]

func line(_ bytes: inout ArraySlice<UInt8>) -> String {
    let end = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
    let text = String(decoding: bytes[..<end], as: UTF8.self)
    bytes = end < bytes.endIndex ? bytes[(end + 1)...] : []
    return text
}

func decode(_ words: ArraySlice<UInt16>, _ type: RegisterValueType, _ order: ByteOrder, scale: Double, offset: Double) {
    guard let value = try? RegisterDecoder.decode(words: words, type: type, order: order) else { return }
    _ = value.scaled(by: scale, offset: offset).description
    _ = order.name(registers: words.count)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModbusRegisters(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var rest = ArraySlice(UnsafeBufferPointer(start: data, count: size))
    let typeText = line(&rest)
    let orderText = line(&rest)
    var words: [UInt16] = []
    var index = rest.startIndex
    while index + 1 < rest.endIndex {
        words.append(UInt16(rest[index]) << 8 | UInt16(rest[index + 1]))
        index += 2
    }
    let scale = words.first.map { Double(Int16(bitPattern: $0)) / 10 } ?? 1
    let offset = words.last.map { Double(Int16(bitPattern: $0)) / 100 } ?? 0
    if let type = RegisterValueType(parsing: typeText) {
        let order = ByteOrder(parsing: orderText) ?? .abcd
        _ = type.description
        decode(words.prefix(type.registerCount), type, order, scale: scale, offset: offset)
        decode(words[...], type, order, scale: 1, offset: 0)
        _ = try? RegisterDecoder.decode(bit: words.first.map { $0 & 1 == 1 } ?? false, type: type)
    }
    for type in fixedTypes where type.registerCount <= words.count {
        for order in ByteOrder.allCases {
            decode(words.prefix(type.registerCount), type, order, scale: scale, offset: offset)
        }
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzModbusRegisters_main")
public func fuzzModbusRegistersMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
