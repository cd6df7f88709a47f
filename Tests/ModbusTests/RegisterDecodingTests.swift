import JSONQuery
import Modbus
import XCTest

/// Vectors from the rig README's "Values at a few ticks" table (`rigmap.py vectors`).
final class RegisterDecodingTests: XCTestCase {
    func decode(_ words: [UInt16], _ type: String, _ order: String = "ABCD") throws -> RegisterValue {
        let parsedType = try XCTUnwrap(RegisterValueType(parsing: type), type)
        let parsedOrder = try XCTUnwrap(ByteOrder(parsing: order), order)
        return try RegisterDecoder.decode(words: words, type: parsedType, order: parsedOrder)
    }

    func float(_ value: RegisterValue) -> Float? {
        guard case .double(let double) = value else { return nil }
        return Float(double)
    }

    func testFloat32InEveryOrderFromTheOrderTestBlock() throws {
        // 123456.0 + n at n = 0 and n = 25, one block per order (unit 2, HR 120–127).
        let vectors: [(String, [UInt16], [UInt16])] = [
            ("ABCD", [0x47F1, 0x2000], [0x47F1, 0x2C80]),
            ("BADC", [0xF147, 0x0020], [0xF147, 0x802C]),
            ("CDAB", [0x2000, 0x47F1], [0x2C80, 0x47F1]),
            ("DCBA", [0x0020, 0xF147], [0x802C, 0xF147]),
        ]
        for (order, atZero, atTwentyFive) in vectors {
            XCTAssertEqual(try decode(atZero, "float32", order), .double(123456.0), order)
            XCTAssertEqual(try decode(atTwentyFive, "float32", order), .double(123481.0), order)
        }
    }

    func testGasPanelPoints() throws {
        // A float32 reads as the shortest decimal that is the same float (4.0039062 for 4.00390625).
        XCTAssertEqual(try float(decode([0x4080, 0x2000], "float32", "ABCD")), 4.00390625)
        XCTAssertEqual(try float(decode([0xE000, 0x409F], "float32", "CDAB")), 4.99609375)
        XCTAssertEqual(try decode([0x41AA, 0x6666], "float32"), .double(21.3))
        XCTAssertEqual(try decode([0x0000, 0xBF32], "float32", "CDAB"), .double(-0.6953125))
        XCTAssertEqual(try decode([0x0001, 0x0045], "uint32", "ABCD"), .uint(65605))
        XCTAssertEqual(try decode([0x0077, 0x0001], "uint32", "CDAB"), .uint(65655))
        XCTAssertEqual(try decode([0xFFFE, 0x7960], "int32", "ABCD"), .int(-100_000))
        XCTAssertEqual(try decode([0xFFFF, 0x0BDC], "int32"), .int(-62500))
        XCTAssertEqual(try decode([0x4093, 0x5680, 0x0000, 0x0000], "float64", "ABCDEFGH"), .double(1237.625))
        XCTAssertEqual(try decode([0x0000, 0x415A], "float32", "CDAB"), .double(13.625))
    }

    func testSixtyFourBitOrders() throws {
        // 1234.5 = 0x4093 4A00 0000 0000; 0x0102030405060708 as an integer.
        let big: [UInt16] = [0x4093, 0x4A00, 0x0000, 0x0000]
        XCTAssertEqual(try decode(big, "float64", "ABCDEFGH"), .double(1234.5))
        XCTAssertEqual(try decode(big.reversed(), "float64", "GHEFCDAB"), .double(1234.5))
        XCTAssertEqual(try decode(big.map(\.byteSwapped), "float64", "BADCFEHG"), .double(1234.5))
        XCTAssertEqual(try decode(big.reversed().map(\.byteSwapped), "float64", "HGFEDCBA"), .double(1234.5))
        // The 4-letter names mean their 8-letter counterparts on 64-bit values.
        XCTAssertEqual(try decode(big.reversed(), "float64", "CDAB"), .double(1234.5))
        let words: [UInt16] = [0x0102, 0x0304, 0x0506, 0x0708]
        XCTAssertEqual(try decode(words, "uint64", "ABCDEFGH"), .uint(0x0102_0304_0506_0708))
        XCTAssertEqual(try decode(words, "uint64", "HGFEDCBA"), .uint(0x0807_0605_0403_0201))
        XCTAssertEqual(try decode(words, "uint64", "BADCFEHG"), .uint(0x0201_0403_0605_0807))
        XCTAssertEqual(try decode(words, "uint64", "GHEFCDAB"), .uint(0x0708_0506_0304_0102))
        XCTAssertEqual(try decode([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], "int64"), .int(-2))
        XCTAssertEqual(try decode([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], "uint64").json, .double(Double(UInt64.max)))
    }

    func testSixteenBitTypesAndOrders() throws {
        XCTAssertEqual(try decode([0xFF38], "int16"), .int(-200))
        XCTAssertEqual(try decode([0xFF38], "uint16"), .uint(65336))
        XCTAssertEqual(try decode([0x38FF], "int16", "BA"), .int(-200))
        XCTAssertEqual(try decode([0x38FF], "int16", "DCBA"), .int(-200))
        XCTAssertEqual(try decode([0x8000], "uint16"), .uint(32768))
    }

    func testStringsTrimNulsAndSpaces() throws {
        XCTAssertEqual(try decode([0x524D, 0x2D31, 0x3030, 0, 0, 0, 0, 0], "string[8]"), .string("RM-100"))
        XCTAssertEqual(try decode([0x522D, 0x3132, 0x4100, 0x0000], "string[4]"), .string("R-12A"))
        XCTAssertEqual(try decode([0x2D52, 0x3231, 0x0041, 0x0000], "string[4]", "BA"), .string("R-12A"))
        XCTAssertEqual(try decode([0x4142, 0x2020], "string[2]"), .string("AB"))
        XCTAssertEqual(RegisterValueType(parsing: "string")?.registerCount, 1)
    }

    func testBitsOfRegistersAndCoils() throws {
        XCTAssertEqual(try decode([0x8001], "bit[0]"), .bool(true))
        XCTAssertEqual(try decode([0x8001], "bit[1]"), .bool(false))
        XCTAssertEqual(try decode([0x8001], "bit[15]"), .bool(true))
        XCTAssertEqual(try RegisterDecoder.decode(bit: true, type: .bit(index: nil)), .bool(true))
        XCTAssertThrowsError(try RegisterDecoder.decode(bit: true, type: .uint16))
        XCTAssertThrowsError(try decode([1], "bit"))
        XCTAssertNil(RegisterValueType(parsing: "bit[16]"))
    }

    func testWrongWordCountIsAnErrorNotACrash() {
        XCTAssertThrowsError(try decode([1], "float32")) { error in
            XCTAssertEqual((error as? RegisterDecodingError)?.message, "float32 needs 2 register(s), got 1")
        }
        XCTAssertThrowsError(try decode([], "uint16"))
    }

    func testParsingNames() {
        XCTAssertEqual(RegisterValueType(parsing: "FLOAT32"), .float32)
        XCTAssertEqual(RegisterValueType(parsing: "bool"), .bit(index: nil))
        XCTAssertNil(RegisterValueType(parsing: "int8"))
        XCTAssertNil(RegisterValueType(parsing: "string[0]"))
        XCTAssertEqual(ByteOrder(parsing: "hgfedcba"), .dcba)
        XCTAssertNil(ByteOrder(parsing: "ACBD"))
        XCTAssertEqual(ByteOrder.cdab.name(registers: 4), "GHEFCDAB")
        XCTAssertEqual(ByteOrder.badc.name(registers: 1), "BA")
    }

    func testScalingKeepsDecimalsAndIntegers() {
        XCTAssertEqual(RegisterValue.int(201).scaled(by: 0.1, offset: 0), .double(20.1))
        XCTAssertEqual(RegisterValue.int(-225).scaled(by: 0.1, offset: 0), .double(-22.5))
        XCTAssertEqual(RegisterValue.int(2155).scaled(by: 0.01, offset: 0), .double(21.55))
        XCTAssertEqual(RegisterValue.uint(400).scaled(by: 1, offset: 0), .uint(400))
        XCTAssertEqual(RegisterValue.int(100).scaled(by: 0.5, offset: -273.15), .double(-223.15))
        XCTAssertEqual(RegisterValue.double(4.0).scaled(by: 100_000, offset: 0), .double(400_000))
        XCTAssertEqual(RegisterValue.string("x").scaled(by: 2, offset: 1), .string("x"))
        XCTAssertEqual(RegisterValue.double(.nan).json, .null)
    }
}
