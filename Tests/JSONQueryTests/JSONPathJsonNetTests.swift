import JSONQuery
import XCTest

/// The Json.NET `SelectToken` dialect that MedTech templates are written in: each rule from
/// the comparison table in `shared/conformance/jsonpath/README.md` and medtech-templates 2.3.
final class JSONPathJsonNetTests: XCTestCase {
    private func select(_ path: String, _ json: String, file: StaticString = #filePath, line: UInt = #line) throws -> [JSONValue] {
        try JSONPathExpression(path, dialect: .jsonNet).select(JSONValue(parsing: json))
    }

    private func paths(_ path: String, _ json: String) throws -> [String] {
        try JSONPathExpression(path, dialect: .jsonNet).selectWithPaths(JSONValue(parsing: json)).map(\.path)
    }

    private func assertSyntaxError(
        _ path: String, column: Int? = nil, containing text: String? = nil, file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try JSONPathExpression(path, dialect: .jsonNet)
            XCTFail("\(path) compiled", file: file, line: line)
        } catch {
            XCTAssertNotNil(error.column, "\(path): \(error)", file: file, line: line)
            if let column { XCTAssertEqual(error.column, column, "\(path): \(error)", file: file, line: line) }
            if let text { XCTAssertTrue(error.message.contains(text), "\(path): \(error)", file: file, line: line) }
        }
    }

    private func assertRuntimeError(_ path: String, _ json: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expression = try JSONPathExpression(path, dialect: .jsonNet)
        let document = try JSONValue(parsing: json)
        XCTAssertThrowsError(try expression.select(document), path, file: file, line: line) { error in
            XCTAssertNil((error as? JSONPathError)?.column, file: file, line: line)
        }
    }

    // MARK: - Descendant filters test the start node itself (rule 1)

    /// `..[?(@a.b)]` alone is walked by a recursive scan; `selectWithPaths` still takes the
    /// general evaluator, so the two must select the same nodes in the same order.
    func testDescendantExistenceScanSelectsWhatTheGeneralEvaluatorSelects() throws {
        let documents = [
            #"{"heartRate":78,"deviceId":"d"}"#,
            #"{"heartRate":null,"readings":[{"heartRate":1},{"x":{"heartRate":2}},[{"heartRate":3}],"heartRate"]}"#,
            #"[{"a":{"b":1}},{"a":{"c":1}},{"a":[{"b":2}]},{"a":{"b":null,"d":{"a":{"b":0}}}}]"#,
            #"{"a":{"b":{"a":{"b":{}}}}}"#,
            #"[]"#, #"7"#, #""heartRate""#,
        ]
        for path in ["$..[?(@heartRate)]", "$..[?(@a.b)]", "$..[?(@)]"] {
            let expression = try JSONPathExpression(path, dialect: .jsonNet)
            for text in documents {
                let document = try JSONValue(parsing: text)
                XCTAssertEqual(try expression.select(document), try expression.selectWithPaths(document).map(\.value), "\(path) on \(text)")
            }
        }
        XCTAssertEqual(try select("$..[?(@a.b)]", documents[2]).count, 3)
    }

    func testDescendantFilterSelectsTheRootOfAFlatMessage() throws {
        let message = #"{"heartRate":"78","deviceId":"device123","endDate":"2019-02-01T22:46:01.8750000Z"}"#
        XCTAssertEqual(try select("$..[?(@heartRate)]", message), [try JSONValue(parsing: message)])
        XCTAssertEqual(try paths("$..[?(@heartRate)]", message), ["$"])
    }

    func testDescendantFilterVisitsEveryDescendantInDocumentOrder() throws {
        let json = #"{"a":{"heartRate":1,"b":{"heartRate":2}},"list":[{"heartRate":3},{"x":4}]}"#
        XCTAssertEqual(try select("$..[?(@heartRate)]", json).map { $0["heartRate"] }, [1, 2, 3])
        XCTAssertEqual(try paths("$..[?(@heartRate)]", json), ["$['a']", "$['a']['b']", "$['list'][0]"])
    }

    func testNestedRelativePathInDescendantFilter() throws {
        let envelope = #"{"Body":{"heartRate":"78","endDate":"2019"},"Properties":{"iothub-creation-time-utc":"2019"},"SystemProperties":{"iothub-connection-device-id":"device123"}}"#
        XCTAssertEqual(try select("$..[?(@Body.heartRate)]", envelope), [try JSONValue(parsing: envelope)])
        let telemetry = #"{"telemetry":{"BloodPressure":{"Systolic":120,"Diastolic":80}},"deviceId":"d"}"#
        XCTAssertEqual(try select("$..[?(@telemetry.BloodPressure.Systolic)]", telemetry).count, 1)
        XCTAssertEqual(try paths("$..[?(@telemetry.BloodPressure.Systolic)]", telemetry), ["$"])
    }

    func testDescendantWildcardIncludesTheStartNode() throws {
        XCTAssertEqual(try select("$..*", #"{"a":[1]}"#), [["a": [1]], [1], 1])
    }

    func testDescendantNamesComeInDocumentOrder() throws {
        // Json.NET walks the tree once; a nested match that comes first in the text comes first.
        XCTAssertEqual(try select("$..a", #"{"b":{"a":1},"a":2}"#), [1, 2])
        XCTAssertEqual(try select("$..['a','c']", #"{"c":0,"b":{"a":1}}"#), [0, 1])
    }

    // MARK: - Filters on objects never match (rule 2)

    func testFilterOnObjectNeverMatches() throws {
        XCTAssertEqual(try select("$.Body[?(@.x)]", #"{"Body":{"x":{"x":1}}}"#), [])
        XCTAssertEqual(try select("$[?(@)]", #"{"x":1}"#), [])
        XCTAssertEqual(try select("$.Body[?(@.x)]", #"{"Body":[{"x":1},{"y":2}]}"#), [["x": 1]])
    }

    func testSystolicAndDiastolicFilter() throws {
        let json = #"{"Body":[{"systolic":120,"diastolic":80},{"systolic":118},{"diastolic":70}]}"#
        XCTAssertEqual(try select("$.Body[?(@systolic && @diastolic)]", json), [["systolic": 120, "diastolic": 80]])
    }

    // MARK: - @name and existence (rules 3, 4)

    func testAtNameMeansAtDotName() throws {
        let json = #"[{"a":1},{"b":2}]"#
        XCTAssertEqual(try select("$[?(@a)]", json), try select("$[?(@.a)]", json))
        XCTAssertEqual(try select("$[?(@a)]", json), [["a": 1]])
    }

    func testBareExistenceIsTrueForFalsyValues() throws {
        let json = #"[{"x":null},{"x":false},{"x":0},{"x":""},{"x":[]},{"y":1}]"#
        XCTAssertEqual(try select("$[?(@x)]", json).count, 5)
    }

    // MARK: - Operators and literals (rule 5)

    func testStringEqualityWithSingleQuotes() throws {
        let json = #"{"height":[{"value":72,"unit":"inches"},{"value":180,"unit":"cm"}]}"#
        XCTAssertEqual(try select("$..[?(@unit == 'inches')]", json), [["value": 72, "unit": "inches"]])
        XCTAssertEqual(try select("$.height[?(@.unit != 'inches')].value", json), [180])
        XCTAssertEqual(try select("$.height[?(@.unit <> 'inches')].value", json), [180])
        XCTAssertEqual(try select(#"$.height[?(@.unit == 'in\'ches')]"#, json), [])
    }

    func testDoubleQuotedStringsAreRejected() {
        assertSyntaxError(#"$.a[?(@.b == "x")]"#, column: 14)
        assertSyntaxError(#"$["a"]"#, column: 3)
    }

    func testNumericComparisonsMixIntegersAndFloats() throws {
        let json = #"[{"v":1},{"v":1.0},{"v":2.5},{"v":"1"},{"v":true}]"#
        XCTAssertEqual(try select("$[?(@.v == 1)]", json), [["v": 1], ["v": 1.0]])
        XCTAssertEqual(try select("$[?(@.v == 1.0)]", json), [["v": 1], ["v": 1.0]])
        XCTAssertEqual(try select("$[?(@.v > 1)]", json), [["v": 2.5]])
        XCTAssertEqual(try select("$[?(@.v >= 1)]", json).count, 3)
        XCTAssertEqual(try select("$[?(@.v < 2.5)]", json).count, 2)
        XCTAssertEqual(try select("$[?(@.v <= 2.5)]", json).count, 3)
        XCTAssertEqual(try select("$[?(@.v == '1')]", json), [["v": "1"]])
        XCTAssertEqual(try select("$[?(@.v == true)]", json), [["v": true]])
        XCTAssertEqual(try select("$[?(@.v === 1)]", json), [["v": 1], ["v": 1.0]])
        XCTAssertEqual(try select("$[?(@.v !== 1)]", json).count, 3)
        XCTAssertEqual(try select("$[?(@.v == -1e0 )]", #"[{"v":-1}]"#), [["v": -1]])
    }

    func testStringOrderingIsOrdinal() throws {
        let json = #"[{"s":"apple"},{"s":"Banana"},{"s":"cherry"}]"#
        XCTAssertEqual(try select("$[?(@.s > 'b')].s", json), ["cherry"])
        XCTAssertEqual(try select("$[?(@.s < 'b')].s", json), ["apple", "Banana"])
    }

    func testMissingValueMakesEveryComparisonFalse() throws {
        let json = #"[{"x":1},{"y":2}]"#
        XCTAssertEqual(try select("$[?(@.x != 1)]", json), [])
        XCTAssertEqual(try select("$[?(@.x != 2)]", json), [["x": 1]])
        XCTAssertEqual(try select("$[?(@.x == null)]", #"[{"x":null},{"y":1}]"#), [["x": nil]])
    }

    func testStructuredValuesOnlyCompareUnequal() throws {
        let json = #"[{"x":[1]},{"x":{"a":1}},{"x":1}]"#
        XCTAssertEqual(try select("$[?(@.x == 1)]", json), [["x": 1]])
        XCTAssertEqual(try select("$[?(@.x != 1)]", json).count, 2)
    }

    func testPathSelectingSeveralNodesMatchesIfAnyMatches() throws {
        let json = #"[{"r":[1,2,3]},{"r":[4]}]"#
        XCTAssertEqual(try select("$[?(@.r[*] == 2)]", json), [["r": [1, 2, 3]]])
        XCTAssertEqual(try select("$[?(@.r[*] > 3)]", json), [["r": [4]]])
    }

    func testRootReferenceInsideFilter() throws {
        let json = #"{"limit":2,"items":[{"v":1},{"v":3}]}"#
        XCTAssertEqual(try select("$.items[?(@.v > $.limit)]", json), [["v": 3]])
    }

    func testAndOrGroupLikeJsonNet() throws {
        // Json.NET nests a new group when the operator changes: a && b || c is a && (b || c).
        let json = #"[{"a":1,"b":1},{"c":1},{"a":1,"c":1}]"#
        XCTAssertEqual(try select("$[?(@.a && @.b || @.c)]", json), [["a": 1, "b": 1], ["a": 1, "c": 1]])
        XCTAssertEqual(try select("$[?(@.c || @.a && @.b)]", json).count, 3)
    }

    func testNumberMustBeFollowedBySpaceOrParenthesis() throws {
        assertSyntaxError("$[?(@.a == 1&&@.b)]", column: 12, containing: "not a number")
        XCTAssertEqual(try select("$[?(@.a == 1 && @.b)]", #"[{"a":1,"b":0}]"#).count, 1)
    }

    func testFilterNeedsParentheses() {
        assertSyntaxError("$[?@.a]", column: 4, containing: "'('")
        assertSyntaxError("$[?((@.a))]", column: 5)
        assertSyntaxError("$[?(!@.a)]", column: 5)
    }

    // MARK: - Regex (=~)

    func testRegexMatchesAnywhereWithFlags() throws {
        let json = #"[{"n":"Heart Rate"},{"n":"heartrate"},{"n":"pulse"},{"n":"line1\nrate"}]"#
        XCTAssertEqual(try select("$[?(@.n =~ /rate/)].n", json), ["heartrate", "line1\nrate"])
        XCTAssertEqual(try select("$[?(@.n =~ /^heart/)].n", json), ["heartrate"])
        XCTAssertEqual(try select("$[?(@.n =~ /^heart/i)].n", json), ["Heart Rate", "heartrate"])
        XCTAssertEqual(try select("$[?(@.n =~ /^rate$/m)].n", json), ["line1\nrate"])
        XCTAssertEqual(try select("$[?(@.n =~ /1.rate/)].n", json), [])
        XCTAssertEqual(try select("$[?(@.n =~ /1.rate/s)].n", json), ["line1\nrate"])
        XCTAssertEqual(try select("$[?(@.n =~ /heart rate # comment/xi)].n", json), ["heartrate"])
        XCTAssertEqual(try select(#"$[?(@.n =~ /\bRate\b/)].n"#, json), ["Heart Rate"])
    }

    func testRegexDotNetSyntax() throws {
        let json = #"[{"s":"ab12"},{"s":"a_b"},{"s":"x y"},{"s":"a/b"},{"s":"aaa"}]"#
        XCTAssertEqual(try select(#"$[?(@.s =~ /\d{2}$/)].s"#, json), ["ab12"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /^\w+$/)].s"#, json), ["ab12", "a_b", "aaa"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /\s/)].s"#, json), ["x y"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /a\/b/)].s"#, json), ["a/b"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /^(?:a|x)[^a-z]?[a-z]$/)].s"#, json), ["a_b", "x y", "a/b"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /^a+?$/)].s"#, json), ["aaa"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /^a{2,3}$/)].s"#, json), ["aaa"])
        XCTAssertEqual(try select(#"$[?(@.s =~ /\p{Nd}/)].s"#, json), ["ab12"])
        XCTAssertEqual(try select(#"$[?(@.n =~ /x/)]"#, #"[{"n":1}]"#), [])
    }

    func testRegexFromTheDocument() throws {
        let json = #"{"re":"/^A/i","bad":"/(/","items":[{"s":"abc"},{"s":"xa"}]}"#
        XCTAssertEqual(try select("$.items[?(@.s =~ $.re)].s", json), ["abc"])
        XCTAssertEqual(try select("$.items[?(@.s =~ $.bad)].s", json), [])
    }

    func testInvalidRegexIsASyntaxErrorAtItsColumn() {
        assertSyntaxError("$[?(@.s =~ /a(b/)]", column: 14, containing: "regex")
        assertSyntaxError("$[?(@.s =~ /a/q)]", column: 15, containing: "flag")
        assertSyntaxError("$[?(@.s =~ /abc)]", containing: "regex")
    }

    // MARK: - Names, `$`, brackets (rule 6)

    func testDotNamesMayContainAnyCharacterButDelimiters() throws {
        let json = #"{"SystemProperties":{"iothub-connection-device-id":"device123","a:b":1,"x$":2}}"#
        XCTAssertEqual(try select("$.SystemProperties.iothub-connection-device-id", json), ["device123"])
        XCTAssertEqual(try select("$.SystemProperties.a:b", json), [1])
        XCTAssertEqual(try select("$.SystemProperties.x$", json), [2])
    }

    func testDollarIsOptional() throws {
        let json = #"{"Body":{"heartRate":60},"$foo":1}"#
        XCTAssertEqual(try select("Body.heartRate", json), [60])
        XCTAssertEqual(try select("$foo", json), [1])
        XCTAssertEqual(try select("$", json).count, 1)
        XCTAssertEqual(try select("", json).count, 1)
    }

    func testDotBeforeBracketIsAccepted() throws {
        let json = #"{"My Property":[10,20]}"#
        XCTAssertEqual(try select("$.['My Property']", json), [[10, 20]])
        XCTAssertEqual(try select("$.['My Property'].[1]", json), [20])
        XCTAssertEqual(try select("$['My Property'][0]", json), [10])
    }

    func testMatchedTokenPath() throws {
        let json = #"{"Body":[{"x":1}],"matchedToken":{"x":1,"ts":"2020"}}"#
        XCTAssertEqual(try select("$.matchedToken.x", json), [1])
        XCTAssertEqual(try paths("$.matchedToken.ts", json), ["$['matchedToken']['ts']"])
    }

    func testNamesAreCaseSensitive() throws {
        XCTAssertEqual(try select("$.heartrate", #"{"heartRate":1}"#), [])
    }

    func testBracketStringEscapes() throws {
        XCTAssertEqual(try select(#"$['a\'b']"#, #"{"a'b":1}"#), [1])
        XCTAssertEqual(try select(#"$['a\tb']"#, #"{"a\tb":2}"#), [2])
        assertSyntaxError(#"$['a\u0041']"#, column: 5, containing: "escape")
        assertSyntaxError("$['a", column: 3, containing: "string")
    }

    func testWhitespaceEndsThePath() throws {
        XCTAssertEqual(try select("$.a  ", #"{"a":1}"#), [1])
        assertSyntaxError("$.a b", column: 4)
    }

    // MARK: - Wildcards

    func testDotWildcardSelectsObjectValuesOnly() throws {
        XCTAssertEqual(try select("$.*", #"{"a":1,"b":[2]}"#), [1, [2]])
        XCTAssertEqual(try select("$.*", "[1,2]"), [])
    }

    func testBracketWildcardSelectsArrayElementsOnly() throws {
        XCTAssertEqual(try select("$[*]", "[1,2]"), [1, 2])
        XCTAssertEqual(try select("$[*]", #"{"a":1}"#), [])
        XCTAssertEqual(try select("$['*']", #"{"*":3,"a":1}"#), [3])
    }

    // MARK: - Indexes, slices, unions

    func testNegativeIndexIsARuntimeError() throws {
        try assertRuntimeError("$[-1]", "[1,2]")
        XCTAssertEqual(try select("$.a[-1]", #"{"a":{"b":1}}"#), [])
        XCTAssertEqual(try select("$[5]", "[1,2]"), [])
    }

    func testSlices() throws {
        let array = "[0,1,2,3,4,5]"
        XCTAssertEqual(try select("$[1:3]", array), [1, 2])
        XCTAssertEqual(try select("$[-2:]", array), [4, 5])
        XCTAssertEqual(try select("$[:2]", array), [0, 1])
        XCTAssertEqual(try select("$[::2]", array), [0, 2, 4])
        XCTAssertEqual(try select("$[::-2]", array), [5, 3, 1])
        XCTAssertEqual(try select("$[4:1:-1]", array), [4, 3, 2])
        XCTAssertEqual(try select("$[10:]", array), [])
        try assertRuntimeError("$[::0]", array)
    }

    func testUnionsOfIndexesOrNames() throws {
        XCTAssertEqual(try select("$[0, 2]", "[0,1,2]"), [0, 2])
        XCTAssertEqual(try select("$['b','a']", #"{"a":1,"b":2}"#), [2, 1])
        assertSyntaxError("$[0,'a']", column: 5)
        assertSyntaxError("$['a',0]", column: 7, containing: "cannot be mixed")
        assertSyntaxError("$[0,1:2]", column: 6, containing: "slices")
        assertSyntaxError("$[0,*]", column: 5)
    }

    func testScanIgnoredForArrayIndexers() throws {
        // Json.NET applies `..[0]` like `[0]`: the scan flag only affects names and filters.
        XCTAssertEqual(try select("$..[0]", "[[1],[2]]"), [[1]])
    }

    // MARK: - Errors and limits

    func testSyntaxErrorsSayWhereAndWhy() {
        assertSyntaxError("$.a[", column: 5, containing: "open indexer")
        assertSyntaxError("$.a.", column: 5, containing: "member name")
        assertSyntaxError("$['a']b", column: 7, containing: "after an indexer")
        assertSyntaxError("$[?(@.a ~ 1)]", column: 9, containing: "operator")
        assertSyntaxError("$[1x]", column: 4)
        assertSyntaxError("$[99999999999]", column: 3, containing: "index")
        assertSyntaxError("$[?(@.a == 1)", column: 14)
    }

    func testDeepNestingIsAnError() {
        let depth = 5000
        let path = "$" + String(repeating: "[?(@", count: depth) + String(repeating: ")]", count: depth)
        assertSyntaxError(path, containing: "nested deeper")
    }

    func testPathsAreNormalized() throws {
        let json = #"{"a":[{"b'c":1},{"b'c":2}]}"#
        XCTAssertEqual(try paths("$.a[*]['b\\'c']", json), [#"$['a'][0]['b\'c']"#, #"$['a'][1]['b\'c']"#])
    }

    func testDialectNames() {
        XCTAssertEqual(JSONPathExpression.Dialect(rawValue: "jsonnet"), .jsonNet)
        XCTAssertEqual(JSONPathExpression.Dialect(rawValue: "rfc9535"), .rfc9535)
    }

    func testRFCDialectDiffersOnTheSameExpressions() throws {
        let message = try JSONValue(parsing: #"{"heartRate":"78"}"#)
        XCTAssertThrowsError(try JSONPathExpression("$..[?(@heartRate)]", dialect: .rfc9535))
        XCTAssertEqual(try JSONPathExpression("$..[?@.heartRate]", dialect: .rfc9535).select(message), [])
        XCTAssertEqual(try JSONPathExpression("$[-1]", dialect: .rfc9535).select(["a", "b"]), ["b"])
        XCTAssertEqual(try JSONPathExpression("$.*", dialect: .rfc9535).select([1, 2]), [1, 2])
    }
}
