import XCTest
import JSONQuery

/// The `.template` parse options: what Json.NET accepts in MedTech template files.
final class JSONTemplateParsingTests: XCTestCase {
    private func parseError(_ text: String, options: JSONParseOptions) -> JSONParseError? {
        do {
            _ = try JSONValue(parsing: text, options: options)
            return nil
        } catch {
            return error
        }
    }

    func testCommentsAndTrailingCommasParseAsTheirCommentFreeTwin() throws {
        let lenient = """
            // a device mapping
            {
              "a": 1, // line comment after a member
              /* a block
                 comment over lines */ "b": [1, 2, /* inside */ 3,],
              "url": "http://example.org/a//b", "star": "/* not a comment */",
              "c": {"d": true,},
            }
            /* trailing */
            """
        let strict = #"{"a": 1, "b": [1, 2, 3], "url": "http://example.org/a//b", "star": "/* not a comment */", "c": {"d": true}}"#
        XCTAssertEqual(try JSONValue(parsing: lenient, options: .template), try JSONValue(parsing: strict))
        XCTAssertEqual(try JSONValue(parsing: "[/**/]", options: .template), .array([]))
        XCTAssertEqual(try JSONValue(parsing: "{}// end without newline", options: .template), .object(JSONObject()))
    }

    func testStrictParsingStillRefusesThem() {
        let comment = parseError("{\"a\": 1 // x\n}", options: [])
        XCTAssertEqual(comment?.line, 1)
        XCTAssertEqual(comment?.column, 9)
        XCTAssertTrue(comment?.reason.contains("comments are not allowed") ?? false, comment?.description ?? "accepted")
        XCTAssertNotNil(parseError("[1, 2,]", options: []))
        XCTAssertNotNil(parseError("{\"a\": 1,}", options: []))
        // Each option alone allows only its own relaxation.
        XCTAssertNotNil(parseError("[1,]", options: .comments))
        XCTAssertNotNil(parseError("[1] // x", options: .trailingCommas))
    }

    func testRealMistakesNameLineAndColumn() {
        let unterminated = parseError("{\n  \"a\": 1,\n  /* never closed\n}", options: .template)
        XCTAssertEqual(unterminated?.line, 3)
        XCTAssertEqual(unterminated?.column, 3)
        XCTAssertEqual(unterminated?.reason, "unterminated /* comment")
        let slash = parseError("{\"a\": / 1}", options: .template)
        XCTAssertEqual(slash?.line, 1)
        XCTAssertEqual(slash?.column, 7)
        XCTAssertEqual(slash?.reason, "'/' that does not start a comment")
        // A single trailing comma only: an empty element is still a mistake.
        let double = parseError("[1,,]", options: .template)
        XCTAssertEqual(double?.column, 4)
        XCTAssertNotNil(parseError("{,}", options: .template))
        XCTAssertNotNil(parseError("[,]", options: .template))
        // A comment does not hide a missing comma.
        XCTAssertNotNil(parseError("[1 /* x */ 2]", options: .template))
    }
}
