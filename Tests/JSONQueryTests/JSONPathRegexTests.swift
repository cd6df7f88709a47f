import JSONQuery
import XCTest

/// I-Regexp (RFC 9485) through RFC 9535 `match()` / `search()`, beyond what the compliance
/// suite covers. `match` anchors the whole string; `search` finds a substring; a pattern that is
/// not valid I-Regexp makes both false rather than failing the query.
final class JSONPathRegexTests: XCTestCase {
    private func matching(_ pattern: String, _ strings: [String], search: Bool = false) throws -> [String] {
        let function = search ? "search" : "match"
        let escaped = pattern.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        let expression = try JSONPathExpression("$[?\(function)(@, '\(escaped)')]", dialect: .rfc9535)
        return try expression.select(.array(strings.map { .string($0) })).compactMap(\.stringValue)
    }

    func testQuantifiers() throws {
        let input = ["", "a", "aa", "aaa", "aaaa"]
        XCTAssertEqual(try matching("a{2}", input), ["aa"])
        XCTAssertEqual(try matching("a{2,}", input), ["aa", "aaa", "aaaa"])
        XCTAssertEqual(try matching("a{1,3}", input), ["a", "aa", "aaa"])
        XCTAssertEqual(try matching("a?", input), ["", "a"])
        XCTAssertEqual(try matching("a+", input), ["a", "aa", "aaa", "aaaa"])
        XCTAssertEqual(try matching("(aa)*", input), ["", "aa", "aaaa"])
    }

    func testClassesAndAlternation() throws {
        let input = ["cat", "dog", "cow", "c-t", "C9t"]
        XCTAssertEqual(try matching("c[a-o]t|dog", input), ["cat", "dog"])
        XCTAssertEqual(try matching("c[^a]\\w", input), [])
        XCTAssertEqual(try matching("c[^a][a-z]", input), ["cow", "c-t"])
        XCTAssertEqual(try matching("[-c]{1,2}t", input), ["c-t"])
        XCTAssertEqual(try matching("[A-Z][0-9]t", input), ["C9t"])
    }

    func testUnicodeCategories() throws {
        let input = ["Ärger", "ärger", "42", "٤٢", "x y"]
        XCTAssertEqual(try matching("\\p{Lu}\\p{Ll}+", input), ["Ärger"])
        XCTAssertEqual(try matching("\\p{L}+", input), ["Ärger", "ärger"])
        XCTAssertEqual(try matching("\\p{Nd}+", input), ["42", "٤٢"])
        XCTAssertEqual(try matching("\\P{L}+", input), ["42", "٤٢"])
        XCTAssertEqual(try matching("x\\p{Zs}y", input), ["x y"])
        XCTAssertEqual(try matching("[\\p{Nd}]+", input), ["42", "٤٢"])
    }

    func testDotExcludesLineBreaks() throws {
        XCTAssertEqual(try matching("a.b", ["a\nb", "a\rb", "a\tb", "a😀b"]), ["a\tb", "a😀b"])
    }

    func testSearchFindsSubstrings() throws {
        XCTAssertEqual(try matching("b+", ["abbc", "ac"], search: true), ["abbc"])
        XCTAssertEqual(try matching("^a", ["ab", "ba"], search: true), ["ab"])
    }

    func testInvalidPatternsAreFalseNotErrors() throws {
        for pattern in ["(", "a{2,1}", "\\d", "(?:a)", "a**", "[b-a]", "\\p{Xx}", "a{,2}", "[a"] {
            XCTAssertEqual(try matching(pattern, ["a", "(", "aa"]), [], pattern)
        }
    }

    func testPatternFromTheDocument() throws {
        let document: JSONValue = ["re": "a.c", "items": ["abc", "abd"]]
        let expression = try JSONPathExpression("$.items[?match(@, $.re)]", dialect: .rfc9535)
        XCTAssertEqual(try expression.select(document), ["abc"])
    }
}
