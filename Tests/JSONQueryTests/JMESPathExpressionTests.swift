import JSONQuery
import XCTest

final class JMESPathExpressionTests: XCTestCase {
    func testIsProjection() throws {
        let projections = [
            "Body[*]", "Body[*].hr", "Body[?hr].hr", "Body[]", "Body[].hr", "Body[0:2]", "*", "Body.*.hr",
            "a.b[*]", "a | b[*].c", "[*].a", "[?a]", "a.b.c[?d > `1`].e", "a[*].b[0]",
        ]
        for source in projections {
            XCTAssertTrue(try JMESPathExpression(source).isProjection, source)
        }
        let single = [
            "Body", "Body[0]", "Body[*] | [0]", "Body[?hr].hr | [0]", "length(Body[*])", "[Body[*]]",
            "{a: Body[*]}", "Body[*] || x", "@", "`[1, 2]`", "!Body[*]", "Body[-1].hr", "Body[*][0] | a",
        ]
        for source in single {
            XCTAssertFalse(try JMESPathExpression(source).isProjection, source)
        }
    }

    func testSourceIsKept() throws {
        XCTAssertEqual(try JMESPathExpression(" a.b ").source, " a.b ")
    }

    func testIntegersAndFloatsStayDistinct() throws {
        let document: JSONValue = ["a": [3, 1, 2], "b": [1.5, 2.5]]
        XCTAssertEqual(try JMESPathExpression("sum(a)").evaluate(document), .int(6))
        guard case .int = try JMESPathExpression("max(a)").evaluate(document) else { return XCTFail("max of integers") }
        guard case .double(let d) = try JMESPathExpression("sum(b)").evaluate(document) else {
            return XCTFail("sum of floats")
        }
        XCTAssertEqual(d, 4.0)
        XCTAssertEqual(try JMESPathExpression("to_number('42')").evaluate(.null), .int(42))
        XCTAssertEqual(try JMESPathExpression("to_number('-1.5')").evaluate(.null), .double(-1.5))
        XCTAssertEqual(try JMESPathExpression("to_number('1e3')").evaluate(.null), .double(1000))
        XCTAssertEqual(try JMESPathExpression("to_number('abc')").evaluate(.null), .null)
        XCTAssertEqual(try JMESPathExpression("to_number('')").evaluate(.null), .null)
        XCTAssertEqual(try JMESPathExpression("sum(`[9223372036854775807, 1]`)").evaluate(.null), .double(9223372036854775808.0))
        XCTAssertEqual(try JMESPathExpression("abs(`-9223372036854775808`)").evaluate(.null), .double(9223372036854775808.0))
    }

    func testStringFunctionsWorkOnCodePoints() throws {
        let document: JSONValue = ["s": "e\u{301}☃𝄞"]
        XCTAssertEqual(try JMESPathExpression("length(s)").evaluate(document), 4)
        XCTAssertEqual(try JMESPathExpression("reverse(s)").evaluate(document), .string("𝄞☃\u{301}e"))
        XCTAssertEqual(try JMESPathExpression("starts_with(s, 'e')").evaluate(document), true)
        XCTAssertEqual(try JMESPathExpression("ends_with(s, '𝄞')").evaluate(document), true)
        XCTAssertEqual(try JMESPathExpression("contains(s, '\u{301}☃')").evaluate(document), true)
        XCTAssertEqual(try JMESPathExpression("sort(`[\"b\", \"a\", \"B\"]`)").evaluate(.null), ["B", "a", "b"])
    }

    func testSortByIsStable() throws {
        let document: JSONValue = ["p": [["k": 1, "n": "a"], ["k": 0, "n": "b"], ["k": 1, "n": "c"], ["k": 0, "n": "d"]]]
        XCTAssertEqual(try JMESPathExpression("sort_by(p, &k)[].n").evaluate(document), ["b", "d", "a", "c"])
        XCTAssertEqual(try JMESPathExpression("max_by(p, &k).n").evaluate(document), "a")
        XCTAssertEqual(try JMESPathExpression("min_by(p, &k).n").evaluate(document), "b")
    }

    func testBareExpressionReferenceIsATypeError() throws {
        XCTAssertThrowsError(try JMESPathExpression("&a").evaluate(["a": 1])) { error in
            XCTAssertEqual((error as? JMESPathError)?.kind, .invalidType)
        }
    }
}

extension JMESPathExpressionTests {
    func testEqualityComparesCodePoints() throws {
        let document: JSONValue = ["composed": "\u{E9}", "decomposed": "e\u{301}", "list": ["e\u{301}"]]
        XCTAssertEqual(try JMESPathExpression("composed == decomposed").evaluate(document), false)
        XCTAssertEqual(try JMESPathExpression("composed != decomposed").evaluate(document), true)
        XCTAssertEqual(try JMESPathExpression("contains(list, composed)").evaluate(document), false)
        XCTAssertEqual(try JMESPathExpression("contains(list, decomposed)").evaluate(document), true)
        XCTAssertEqual(try JMESPathExpression("`{\"a\": [1, {\"b\": 2.0}]}` == `{\"a\": [1.0, {\"b\": 2}]}`").evaluate(.null), true)
    }
}
