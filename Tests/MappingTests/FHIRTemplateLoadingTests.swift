import EdgeCore
import FHIRModel
import Mapping
import XCTest

final class FHIRTemplateLoadingTests: XCTestCase {
    private func problems(_ text: String) -> [TemplateProblem] {
        do {
            _ = try FHIRTemplateCollection(parsing: text, source: "fhir.json")
            return []
        } catch {
            return error.problems
        }
    }

    private func wrap(_ templates: String...) -> String {
        #"{"templateType":"CollectionFhir","template":["# + templates.map { #"{"templateType":"CodeValueFhir","template":\#($0)}"# }.joined(separator: ",") + "]}"
    }

    func testValidTemplateLoads() throws {
        let collection = try FHIRTemplateCollection(parsing: wrap(
            #"{"TypeName":"hr","PeriodInterval":"Hourly","Codes":[{"Code":"8867-4","System":"http://loinc.org"}],"Value":{"ValueType":"SampledData","ValueName":"hr","DefaultPeriod":"1000","Unit":"count/min"}}"#,
            #"{"typeName":"bp","periodInterval":-1,"codes":[],"components":[{"value":{"valueType":"String","valueName":"s"}}]}"#
        ), source: "fhir.json")
        XCTAssertEqual(collection.typeNames, ["hr", "bp"])
    }

    func testEveryProblemIsReportedWithItsTemplate() {
        let found = problems(wrap(
            #"{"codes":[]}"#,
            #"{"typeName":"  ","codes":[]}"#,
            #"{"typeName":"a","codes":[],"value":{"valueName":"x"}}"#,
            #"{"typeName":"b","codes":[],"value":{"valueType":"Quantity","valueName":"x","bogus":1}}"#,
            #"{"typeName":"c","codes":[],"periodInterval":"Weekly"}"#,
            #"{"typeName":"d","codes":[{"code":"1","colour":"red"}]}"#,
            #"{"typeName":"e","codes":[],"typeMatchExpression":"$.x"}"#,
            #"{"typeName":"f","codes":"nope"}"#,
            #"{"typeName":"g","codes":[]}"#,
            #"{"typeName":"G","codes":[]}"#
        ))
        func at(_ index: Int) -> [String] { found.filter { $0.templateIndex == index }.map(\.message) }
        XCTAssertEqual(at(0), ["Required property 'TypeName' not found in JSON."])
        XCTAssertEqual(at(1), ["Empty type name is not allowed."])
        XCTAssertEqual(at(2), ["Required property 'ValueType' not found in JSON."])
        XCTAssertEqual(at(3).count, 1)
        XCTAssertTrue(at(3)[0].contains("'bogus'"))
        XCTAssertTrue(at(4).first?.contains("Weekly") == true)
        XCTAssertTrue(at(5).first?.contains("'colour'") == true)
        XCTAssertTrue(at(6).first?.contains("'typeMatchExpression'") == true)
        XCTAssertEqual(at(7).count, 1)
        XCTAssertEqual(at(8), [])
        XCTAssertEqual(at(9), ["Duplicate template defined for type name: 'G'."])
        XCTAssertEqual(found.first { $0.templateIndex == 3 }?.field, "value.bogus")
        XCTAssertEqual(found.first { $0.templateIndex == 0 }?.line, 1)
    }

    func testRootProblems() {
        XCTAssertEqual(problems(#"{"templateType":"CollectionContent","template":[]}"#).map(\.message),
            ["Expected TemplateType value CollectionFhirTemplate, actual CollectionContent."])
        XCTAssertEqual(problems(#"{"templateType":"CollectionFhir","template":{}}"#).map(\.message),
            ["Expected an array for the template property value for template type CollectionFhirTemplate."])
        XCTAssertTrue(problems(#"{"templateType":"CollectionFhir","#).first?.message.contains("Invalid JSON") == true)
        XCTAssertEqual(problems(#"[]"#).count, 1)
        XCTAssertEqual(problems(#"{"templateType":"CollectionFhir","template":[]}"#), [])
    }

    func testLinesPointAtTheTemplate() {
        let text = """
            {
              "templateType": "CollectionFhir",
              "template": [
                {
                  "templateType": "CodeValueFhir",
                  "template": {
                    "typeName": "ok", "codes": []
                  }
                },
                {
                  "templateType": "CodeValueFhir",
                  "template": {
                    "codes": []
                  }
                }
              ]
            }
            """
        XCTAssertEqual(problems(text).map(\.line), [12])
    }

    /// Elements with no FHIR form are dropped at load, so built Observations equal their JSON.
    func testEmptyCodingsAndCategoriesAreDropped() throws {
        let collection = try FHIRTemplateCollection(parsing: wrap(
            #"{"typeName":"t","codes":[{},{"code":""},{"code":"c"}],"category":[{},{"text":""},{"text":"vital"}],"value":{"valueType":"Quantity","valueName":"v","unit":""}}"#
        ), source: "fhir.json")
        let reading = Mapping.Measurement(
            type: "t", occurrenceTime: Timestamp(secondsSinceEpoch: 0), deviceId: "d", properties: [.init(name: "v", value: "1")])
        let observation = try XCTUnwrap(ObservationConverter(templates: collection, identity: .none)
            .convert([reading], issued: Timestamp(secondsSinceEpoch: 0)).observations.first)
        XCTAssertEqual(observation.code.coding.map(\.code), ["c", "t"])
        XCTAssertEqual(observation.category, [CodeableConcept(text: "vital")])
        XCTAssertEqual(try Observation(json: observation.json), observation)
    }
}
