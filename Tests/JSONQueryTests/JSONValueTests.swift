import XCTest
@testable import JSONQuery

final class JSONValueTests: XCTestCase {
    func testParsesNumberKinds() throws {
        let v = try JSONValue(parsing: #"{"a": 1, "b": 1.0, "c": -9223372036854775808, "d": 9223372036854775808, "e": 1e2}"#)
        XCTAssertEqual(v["a"], .int(1))
        guard case .double(1.0)? = v["b"] else { return XCTFail("b should be a double") }
        guard case .int(Int64.min)? = v["c"] else { return XCTFail("c should be Int64.min") }
        guard case .exactNumber(let d)? = v["d"], d.text == "9223372036854775808" else {
            return XCTFail("d overflows Int64 and should keep its text: \(String(describing: v["d"]))")
        }
        guard case .double(100)? = v["e"] else { return XCTFail("e should be a double") }
    }

    func testKeepsMemberOrderAndLastDuplicateWins() throws {
        let v = try JSONValue(parsing: #"{"z": 1, "a": 2, "z": 3}"#)
        XCTAssertEqual(v.objectValue?.keys, ["z", "a"])
        XCTAssertEqual(v["z"], .int(3))
    }

    /// Members and elements of nested objects and arrays are collected on shared stacks: each
    /// level must keep exactly its own, duplicates resolved within its own members only.
    func testNestedObjectsAndArraysKeepTheirOwnMembers() throws {
        let v = try JSONValue(parsing: #"{"a":{"x":1,"y":{"x":2,"x":3},"x":4},"b":[{"k":1},{"k":2,"k":5},[1,[2,3],{"k":[]}]],"c":{},"d":[]}"#)
        XCTAssertEqual(v.objectValue?.keys, ["a", "b", "c", "d"])
        XCTAssertEqual(v["a"], .object(["x": .int(4), "y": .object(["x": .int(3)])]))
        XCTAssertEqual(v["a"]?.objectValue?.keys, ["x", "y"])
        XCTAssertEqual(v["b"], .array([
            .object(["k": .int(1)]), .object(["k": .int(5)]),
            .array([.int(1), .array([.int(2), .int(3)]), .object(["k": .array([])])]),
        ]))
        XCTAssertEqual(v["c"], .object(JSONObject()))
        XCTAssertEqual(v["d"], .array([]))
        // Past sixteen members the duplicate check uses a set of the inner object's names only.
        let names = (0..<20).map { "\"m\($0)\":\($0)" }.joined(separator: ",")
        let wide = try JSONValue(parsing: #"{"m0":"outer","inner":{"# + names + #","m3":"again","m19":"last"},"m1":"outer"}"#)
        XCTAssertEqual(wide.objectValue?.keys, ["m0", "inner", "m1"])
        XCTAssertEqual(wide["inner"]?.objectValue?.count, 20)
        XCTAssertEqual(wide["inner"]?["m3"], .string("again"))
        XCTAssertEqual(wide["inner"]?["m19"], .string("last"))
        XCTAssertEqual(wide["inner"]?["m0"], .int(0))
    }

    func testUnescapesStrings() throws {
        let v = try JSONValue(parsing: #"["a\"b\\c\n\u00e9\ud83d\ude00/\/"]"#)
        XCTAssertEqual(v, .array([.string("a\"b\\c\né😀//")]))
    }

    func testErrorsNameLineAndColumn() {
        XCTAssertThrowsError(try JSONValue(parsing: "{\n  \"a\": tru\n}")) { error in
            let e = error as! JSONParseError
            XCTAssertEqual(e.line, 2)
            XCTAssertEqual(e.column, 8)
        }
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\\x\"", "\"\u{01}\"", "[1] 2", "\"\\ud800\"", "nul"] {
            XCTAssertThrowsError(try JSONValue(parsing: bad), "should reject \(bad)")
        }
    }

    func testRejectsExcessiveNesting() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try JSONValue(parsing: deep))
    }

    func testEqualityIsSemantic() throws {
        XCTAssertEqual(try JSONValue(parsing: #"{"a":1,"b":[1,2]}"#), try JSONValue(parsing: #"{"b":[1.0,2],"a":1.0}"#))
        XCTAssertNotEqual(try JSONValue(parsing: "[1,2]"), try JSONValue(parsing: "[2,1]"))
        XCTAssertEqual(Set<JSONValue>([.int(1), .double(1)]).count, 1)
    }

    func testWriterRoundTrips() throws {
        let text = #"{"b":[true,false,null],"a":"x\"\n\u0001","n":-1.5,"i":42}"#
        let v = try JSONValue(parsing: text)
        XCTAssertEqual(JSONWriter().string(v), text)
        XCTAssertEqual(JSONWriter(options: .sortedKeys).string(v), #"{"a":"x\"\n\u0001","b":[true,false,null],"i":42,"n":-1.5}"#)
        XCTAssertEqual(try JSONValue(parsing: JSONWriter(options: .pretty).string(v)), v)
    }

    /// Numbers that neither Int64 nor Double holds exactly keep their text; all others do not.
    func testKeepsTheTextOfNumbersNoInt64OrDoubleHolds() throws {
        for text in [
            "12345678901234567891", "-12345678901234567891", "9223372036854775808", "-9223372036854775809",
            "100000000000000000000", "1.234567890123456789012345", "0.12345678901234567890123", "1e999999", "-1E999999",
            "1e-999999", "2.5e-400", "36.12345678901234567890123",
        ] {
            let value = try JSONValue(parsing: text)
            guard case .exactNumber(let kept) = value else { XCTFail("\(text) became \(value)"); continue }
            XCTAssertEqual(kept.text, text)
            XCTAssertTrue(value.isNumber, text)
            XCTAssertEqual(value.typeName, "number", text)
            XCTAssertEqual(JSONWriter().string(value), text, "written back as read")
        }
        for (text, double) in [("0.1", 0.1), ("72.50", 72.5), ("1.0", 1.0), ("1.5e300", 1.5e300), ("1E-5", 1e-5),
                               ("0.30000000000000004", 0.30000000000000004), ("-0.0", -0.0), ("123456789.12345678", 123456789.12345678)] {
            guard case .double(let d) = try JSONValue(parsing: text) else { XCTFail("\(text) should be a double"); continue }
            XCTAssertEqual(d, double, text)
        }
        XCTAssertEqual(try JSONValue(parsing: "1e999999").doubleValue, .infinity, "arithmetic sees the nearest double")
        XCTAssertEqual(try JSONValue(parsing: "-9223372036854775808"), .int(.min))
        XCTAssertTrue(JSONValue(numberText: "12345678901234567891").map { if case .exactNumber = $0 { true } else { false } } ?? false)
        XCTAssertNil(JSONValue(numberText: "12x"))
        XCTAssertNil(JSONValue(numberText: " 12345678901234567891"))
        XCTAssertNil(JSONValue(numberText: "12345678901234567891\n"))
        XCTAssertNil(JSONValue(numberText: ""))
        XCTAssertNil(JSONValue(numberText: "\"1\""))
    }

    func testKeptNumbersRoundTripInsideDocuments() throws {
        let text = #"{"patientId":12345678901234567891,"v":[1.234567890123456789012345,1e999999,-1E-999999,0.1,7],"d":{"id":99999999999999999999}}"#
        let v = try JSONValue(parsing: text)
        XCTAssertEqual(JSONWriter().string(v), text)
        XCTAssertEqual(try JSONValue(parsing: JSONWriter(options: .pretty).string(v)), v)
        XCTAssertEqual(JSONWriter().string(try JSONValue(parsing: JSONWriter(options: .sortedKeys).string(v))),
                       #"{"d":{"id":99999999999999999999},"patientId":12345678901234567891,"v":[1.234567890123456789012345,1e999999,-1E-999999,0.1,7]}"#)
    }

    func testKeptNumbersCompareExactlyAmongIntegersAndByDoubleWithDoubles() throws {
        let a = try JSONValue(parsing: "12345678901234567891"), b = try JSONValue(parsing: "12345678901234567892")
        XCTAssertNotEqual(a, b, "the two ids differ although their doubles are the same")
        XCTAssertEqual(a, try JSONValue(parsing: "1234567890123456789.1e1"), "same value, other spelling")
        XCTAssertEqual(JSONValue.numericOrder(a, b), -1)
        XCTAssertEqual(JSONValue.numericOrder(try JSONValue(parsing: "9223372036854775808"), .int(.max)), 1)
        XCTAssertEqual(JSONValue.numericOrder(.int(.min), try JSONValue(parsing: "-9223372036854775809")), 1)
        XCTAssertEqual(JSONValue.numericOrder(try JSONValue(parsing: "-1e999999"), try JSONValue(parsing: "1e-999999")), -1)
        XCTAssertEqual(JSONValue.numericOrder(try JSONValue(parsing: "1e-999999"), .int(0)), 1)
        XCTAssertEqual(a, .double(12345678901234567891.0), "against a double, the double value decides")
        XCTAssertEqual(Set([a, b]).count, 2)
        XCTAssertNil(JSONValue.numericOrder(a, "12345678901234567891"))
    }

    /// The writer scans eight bytes at a time for characters to escape: put each of them, and
    /// bytes next to them in value, at every position of strings longer than one word.
    func testWriterEscapesAtEveryPosition() throws {
        let specials: [Character] = ["\"", "\\", "\u{0}", "\u{1F}", "\n", "\t"]
        let neighbours: [Character] = [" ", "!", "#", "[", "]", "\u{7F}", "é", "😀"]
        for length in 1...20 {
            for position in 0..<length {
                for special in specials + neighbours {
                    var characters = Array(repeating: Character("a"), count: length)
                    characters[position] = special
                    let text = String(characters)
                    let written = JSONWriter().string(.string(text))
                    XCTAssertEqual(try JSONValue(parsing: written), .string(text), written)
                    XCTAssertEqual(written.contains("\\"), specials.contains(special), written)
                }
            }
        }
    }

    func testParsesNDJSON() throws {
        let text = "{\"a\":1}\n\n[2]\r\n"
        let values = try Array(text.utf8).withUnsafeBufferPointer { try JSONValue.parseLines($0) }
        XCTAssertEqual(values, [["a": 1], [2]])
        XCTAssertThrowsError(try Array("{}\n{oops}\n".utf8).withUnsafeBufferPointer { try JSONValue.parseLines($0) }) { error in
            XCTAssertEqual((error as! JSONParseError).line, 2)
        }
    }
}
