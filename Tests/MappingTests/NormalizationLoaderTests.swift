import XCTest
import Foundation
import JSONQuery
@testable import Mapping
import TestSupport

final class NormalizationLoaderTests: XCTestCase {
    private func problems(_ text: String) -> [TemplateProblem] {
        do {
            _ = try DeviceTemplateCollection(parsing: text, source: "dev.json")
            return []
        } catch {
            return error.problems
        }
    }

    private func problems(kind: String = "JsonPathContent", body: String) -> [TemplateProblem] {
        problems(#"{"templateType": "CollectionContent", "template": [{"templateType": "\#(kind)", "template": \#(body)}]}"#)
    }

    private let validBody = #"""
    {"typeName": "hr", "typeMatchExpression": "$.Body", "deviceIdExpression": "$.d", "timestampExpression": "$.t",
     "values": [{"valueName": "hr", "valueExpression": "$.hr", "required": true}]}
    """#

    func testTemplateTypeSpellings() throws {
        // vectors/template-type-names.json
        for (written, valid) in [
            ("JsonPathContentTemplate", true), ("JsonPathContent", true), ("jsonpathcontent", true),
            ("IotJsonPathContentTemplate", true), ("IotJsonPathContent", true),
            ("IotCentralJsonPathContent", true), ("iotcentraljsonpathcontent", true), ("IotCentralJsonPathContentTemplate", false),
            ("CalculatedContent", true), ("calculatedcontent", true), ("CalculatedContentTemplate", false),
            ("JsonPath", false), ("", false),
        ] {
            let found = problems(kind: written, body: validBody)
            XCTAssertEqual(found.isEmpty, valid, "\(written): \(found)")
            if !valid {
                XCTAssertEqual(found.first?.message, "No match found for template type \(written).")
            }
        }
        for (root, valid) in [("CollectionContentTemplate", true), ("CollectionContent", true), ("collectionContent", true),
                              ("", false), ("templateType", false), ("CollectionFhir", false)] {
            let found = problems(#"{"templateType": "\#(root)", "template": []}"#)
            XCTAssertEqual(found.isEmpty, valid, root)
            if !valid { XCTAssertTrue(found.first?.message.hasPrefix("Expected TemplateType value CollectionContentTemplate") ?? false) }
        }
    }

    /// The suite's `vectors/template-type-names.json`, read in place.
    func testTemplateTypeNameVectors() throws {
        guard let suite = try Conformance.directory("iomt") else { return }
        let data = try Data(contentsOf: suite.appendingPathComponent("vectors/template-type-names.json"))
        let vectors = try JSONValue(parsing: data)
        var checked = 0
        for root in vectors["deviceMappingRoot"]?["accepts"]?.arrayValue ?? [] {
            XCTAssertEqual(problems(#"{"templateType": "\#(root.stringValue ?? "")", "template": []}"#), [], "\(root)")
            checked += 1
        }
        for root in vectors["deviceMappingRoot"]?["rejects"]?.arrayValue ?? [] {
            XCTAssertEqual(problems(#"{"templateType": "\#(root.stringValue ?? "")", "template": []}"#).count, 1, "\(root)")
            checked += 1
        }
        for kind in vectors["deviceTemplates"]?.arrayValue ?? [] {
            for name in kind["accepts"]?.arrayValue ?? [] {
                XCTAssertEqual(problems(kind: name.stringValue ?? "", body: validBody), [], "\(name)")
                checked += 1
            }
            for name in kind["rejects"]?.arrayValue ?? [] {
                XCTAssertEqual(problems(kind: name.stringValue ?? "", body: validBody).map(\.message),
                               ["No match found for template type \(name.stringValue ?? "")."])
                checked += 1
            }
        }
        for language in vectors["expressionLanguages"]?["accepts"]?.arrayValue ?? [] {
            let name = language.stringValue ?? ""
            for spelling in [name, name.lowercased(), name.uppercased()] {
                var body = validBody.replacingOccurrences(
                    of: #"{"typeName""#, with: #"{"defaultExpressionLanguage": "\#(spelling)", "typeName""#)
                // JMESPath spells the same member paths without `$.`; an unrecognised language
                // name would itself be a problem.
                if name.lowercased() == "jmespath" { body = body.replacingOccurrences(of: "$.", with: "") }
                XCTAssertEqual(problems(kind: "CalculatedContent", body: body), [], spelling)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 15)
    }

    func testEmptyCollectionIsValidAndMatchesNothing() throws {
        let collection = try DeviceTemplateCollection(parsing: #"{"TemplateType": "collectionContent", "Template": []}"#, source: "x")
        XCTAssertEqual(collection.count, 0)
        XCTAssertEqual(try collection.normalize(["a": 1]), [])
    }

    func testUnknownAndMissingMembersAreAllReported() {
        let found = problems(body: #"""
        {"TypeName": "hr", "typeMatchExpressionFake": "$..x", "deviceidexpression": "$.d",
         "values": [{"valueName": "hr", "valueExpression": "$.hr", "required": "yes", "unit": "bpm"}, {"valueExpression": 5}]}
        """#)
        let summary = found.map { "\($0.field ?? "-"): \($0.message)" }
        XCTAssertEqual(summary, [
            "typeMatchExpression: Required property 'TypeMatchExpression' not found in JSON.",
            "timestampExpression: Required property 'TimestampExpression' not found in JSON.",
            "values[0].required: Expected true or false for 'required', found string.",
            "values[0].unit: Could not find member 'unit' on object of type 'JsonPathValueExpression'.",
            "values[1].valueName: Required property 'ValueName' not found in JSON.",
            "values[1].valueExpression: Expected a string for 'valueExpression', found number.",
            "typeMatchExpressionFake: Could not find member 'typeMatchExpressionFake' on object of type 'JsonPathContentTemplate'.",
        ])
        XCTAssertTrue(found.allSatisfy { $0.templateIndex == 0 && $0.templateType == "JsonPathContent" && $0.source == "dev.json" })
    }

    func testBooleansAcceptStrings() throws {
        for flag in ["true", "\"true\"", "\"True\"", "false", "\"false\""] {
            let body = validBody.replacingOccurrences(of: #""required": true"#, with: #""required": \#(flag)"#)
            XCTAssertEqual(problems(body: body), [], flag)
        }
    }

    func testDefaultExpressionLanguageOnlyForCalculatedContent() {
        let withLanguage = validBody.replacingOccurrences(of: #"{"typeName""#, with: #"{"defaultExpressionLanguage": "JmesPath", "typeName""#)
        XCTAssertEqual(problems(kind: "JsonPathContent", body: withLanguage).map(\.field), ["defaultExpressionLanguage"])
        // In JMESPath, `$.Body` is not valid, so the default language really applies.
        let calculated = problems(kind: "CalculatedContent", body: withLanguage)
        XCTAssertEqual(calculated.first?.field, "typeMatchExpression")
        XCTAssertNotNil(calculated.first?.expressionColumn)
        let bogus = validBody.replacingOccurrences(of: #"{"typeName""#, with: #"{"defaultExpressionLanguage": "XPath", "typeName""#)
        XCTAssertEqual(problems(kind: "CalculatedContent", body: bogus).map(\.field), ["defaultExpressionLanguage"])
    }

    func testExpressionObjectsOnlyForCalculatedContent() {
        let objectForm = validBody.replacingOccurrences(
            of: #""deviceIdExpression": "$.d""#, with: #""deviceIdExpression": {"value": "d", "language": "JmesPath"}"#)
        XCTAssertEqual(problems(kind: "CalculatedContent", body: objectForm), [])
        XCTAssertEqual(problems(kind: "JsonPathContent", body: objectForm).map(\.field), ["deviceIdExpression"])
        let strictObject = validBody.replacingOccurrences(
            of: #""deviceIdExpression": "$.d""#, with: #""deviceIdExpression": {"Value": "$.d", "lang": "JsonPath"}"#)
        XCTAssertEqual(problems(kind: "CalculatedContent", body: strictObject).map(\.field), ["deviceIdExpression.lang"])
    }

    func testCalculatedContentRequiresValues() {
        let noValues = #"{"typeName": "t", "typeMatchExpression": "$", "deviceIdExpression": "$.d", "timestampExpression": "$.t"}"#
        XCTAssertEqual(problems(kind: "CalculatedContent", body: noValues).map(\.field), ["values"])
        XCTAssertEqual(problems(kind: "JsonPathContent", body: noValues), [])
    }

    func testIotKindsIgnoreFixedMembers() {
        let body = #"{"typeName": "t", "typeMatchExpression": "$", "deviceIdExpression": 5, "TimestampExpression": "$.x"}"#
        XCTAssertEqual(problems(kind: "IotJsonPathContent", body: body), [])
        XCTAssertEqual(problems(kind: "IotCentralJsonPathContent", body: body), [])
    }

    func testMalformedExpressionNamesTemplateFieldAndColumn() throws {
        let text = #"""
        {
          "templateType": "CollectionContent",
          "template": [
            {"templateType": "CalculatedContent", "template": {"typeName": "a", "typeMatchExpression": "$", "deviceIdExpression": "$.d",
              "timestampExpression": "$.t", "values": []}},
            {
              "templateType": "CalculatedContent",
              "template": {
                "typeName": "b", "defaultExpressionLanguage": "JmesPath", "typeMatchExpression": "@",
                "deviceIdExpression": "d", "timestampExpression": "t",
                "values": [{"valueName": "v", "valueExpression": "foo(@)"}, {"valueName": "w", "valueExpression": "a.[b"}]
              }
            }
          ]
        }
        """#
        let found = problems(text)
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertEqual(found.map(\.templateIndex), [1, 1])
        XCTAssertEqual(found.map(\.templateType), ["CalculatedContent", "CalculatedContent"])
        XCTAssertEqual(found.map(\.field), ["values[0].valueExpression", "values[1].valueExpression"])
        XCTAssertEqual(found.map(\.line), [8, 8])
        XCTAssertTrue(found.allSatisfy { $0.expressionColumn != nil })
        XCTAssertTrue(found[0].description.hasPrefix("dev.json:8 template[1] (CalculatedContent) values[0].valueExpression at column"))
    }

    func testSubTemplateLineScan() {
        let text = """
        {"template": "x", "TEMPLATE": [
          {"templateType": "a", "note": "{[\\"\\n",
           "template":
             {"k": [1, {"template": 2}]}},
          7,
          {"templateType": "b"}
        ], "after": {"template": []}}
        """
        XCTAssertEqual(SubTemplateLines.scan(text), [
            .init(element: 2, body: 4), .init(element: 5, body: nil), .init(element: 6, body: nil),
        ])
        XCTAssertEqual(SubTemplateLines.scan("[1, 2]"), [])
        XCTAssertEqual(SubTemplateLines.scan(#"{"template": [{"template""#), [.init(element: 1, body: 1)])
    }

    func testRootProblems() {
        XCTAssertEqual(problems(#"{"templateType": "CollectionContent", "template": {}}"#).map(\.message),
                       ["Expected an array for the template property value for template type CollectionContentTemplate."])
        XCTAssertEqual(problems(#"{"templateType": "CollectionContent"}"#).map(\.field), ["template"])
        XCTAssertEqual(problems("[]").count, 1)
        let invalid = problems("{\n  \"templateType\": ,\n}")
        XCTAssertEqual(invalid.count, 1)
        XCTAssertEqual(invalid.first?.line, 2)
        XCTAssertEqual(problems(#"{"templateType": "CollectionContent", "template": [1, {"template": {}}]}"#).map(\.templateIndex), [0, 1])
    }
}
