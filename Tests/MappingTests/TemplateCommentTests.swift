import XCTest
import EdgeCore
import FHIRModel
import JSONQuery
@testable import Mapping

/// Templates are read as Json.NET reads them for MedTech: `//` and `/* */` comments and trailing
/// commas are allowed, and mean nothing.
final class TemplateCommentTests: XCTestCase {
    /// A CalculatedContent mapping in the style of Microsoft's documentation, commented.
    static let commentedDevice = """
        {
          "templateType": "CollectionContent",
          "template": [
            {
              "templateType": "CalculatedContent",
              "template": {
                "typeName": "heartrate",
                // Matches every message that has a heart rate.
                "typeMatchExpression": "$..[?(@heartRate)]",
                "deviceIdExpression": "$.matchedToken.deviceId", // the device's serial number
                "patientIdExpression": "$.matchedToken.patientId",
                /* The message's own time; the
                   gateway's receive time is never used. */
                "timestampExpression": "$.matchedToken.endDate",
                "values": [
                  {
                    "required": "true",
                    "valueExpression": {
                      "value": "matchedToken.heartRate", // JMESPath
                      "language": "JmesPath",
                    },
                    "valueName": "hr",
                  },
                ],
              },
            },
          ],
        }
        """

    static let plainDevice = """
        {"templateType": "CollectionContent", "template": [{"templateType": "CalculatedContent", "template": {
          "typeName": "heartrate", "typeMatchExpression": "$..[?(@heartRate)]",
          "deviceIdExpression": "$.matchedToken.deviceId", "patientIdExpression": "$.matchedToken.patientId",
          "timestampExpression": "$.matchedToken.endDate",
          "values": [{"required": "true", "valueExpression": {"value": "matchedToken.heartRate", "language": "JmesPath"}, "valueName": "hr"}]}}]}
        """

    static let commentedFHIR = """
        /* FHIR mapping for the heart rate above. */
        {
          "templateType": "CollectionFhir",
          "template": [
            {
              "templateType": "CodeValueFhir",
              "template": {
                "codes": [ { "code": "8867-4", "system": "http://loinc.org", "display": "Heart rate", }, ],
                "periodInterval": 0, // one Observation per reading
                "typeName": "heartrate",
                "value": { "defaultPeriod": 5000, "unit": "count/min", "valueName": "hr", "valueType": "SampledData", },
              },
            },
          ],
        }
        """

    static let plainFHIR = """
        {"templateType": "CollectionFhir", "template": [{"templateType": "CodeValueFhir", "template": {
          "codes": [{"code": "8867-4", "system": "http://loinc.org", "display": "Heart rate"}],
          "periodInterval": 0, "typeName": "heartrate",
          "value": {"defaultPeriod": 5000, "unit": "count/min", "valueName": "hr", "valueType": "SampledData"}}}]}
        """

    func testCommentedTemplatesMapExactlyAsTheirCommentFreeTwins() throws {
        let message = try JSONValue(parsing: #"{"heartRate": "78", "deviceId": "dev-1", "patientId": "pat-1", "endDate": "2026-03-01T10:00:00Z"}"#)
        let now = Timestamp(millisecondsSinceEpoch: 1_772_359_200_000)
        func run(_ device: String, _ fhir: String) throws -> (measurements: [JSONValue], observations: [JSONValue]) {
            let collection = try DeviceTemplateCollection(parsing: device, source: "devicecontent.json")
            let templates = try FHIRTemplateCollection(parsing: fhir, source: "fhirmapping.json")
            let measurements = try collection.normalize(message, ingestionTime: now)
            let converter = ObservationConverter(templates: templates, identity: .create(deviceSystem: "urn:example:devices"))
            let result = converter.convert(measurements, issued: now)
            XCTAssertEqual(result.errors.count, 0, "\(result.errors)")
            return (measurements.map(\.normalizedJSON), result.observations.map(\.json))
        }
        let commented = try run(Self.commentedDevice, Self.commentedFHIR)
        let plain = try run(Self.plainDevice, Self.plainFHIR)
        XCTAssertEqual(commented.measurements.count, 1)
        XCTAssertEqual(commented.observations.count, 1)
        XCTAssertEqual(commented.measurements, plain.measurements)
        XCTAssertEqual(commented.observations, plain.observations)
    }

    func testProblemsInACommentedTemplateStillNameTheirLine() {
        // Comments before and between sub-templates hold brackets, quotes and "template" to
        // make sure the line scan skips them.
        let text = """
            {
              // "template": [ {
              "templateType": "CollectionContent",
              "template": [
                /* first: fine } ] " */
                {"templateType": "JsonPathContent", "template": {"typeName": "a", "typeMatchExpression": "$..[?(@a)]",
                  "deviceIdExpression": "$.d", "timestampExpression": "$.t", "values": [{"valueName": "a", "valueExpression": "$.a", "required": true},]}},
                // second: an unknown member "{"
                {"templateType": "JsonPathContent",
                 "template": {"typeName": "b", "typeMatchExpression": "$..[?(@b)]", "deviceIdExpression": "$.d",
                  "timestampExpression": "$.t", "colour": "red", "values": [{"valueName": "b", "valueExpression": "$.b", "required": true}]}},
              ],
            }
            """
        do {
            _ = try DeviceTemplateCollection(parsing: text, source: "devicecontent.json")
            XCTFail("an unknown member was accepted")
        } catch {
            XCTAssertEqual(error.problems.count, 1, error.description)
            XCTAssertEqual(error.problems.first?.templateIndex, 1)
            XCTAssertEqual(error.problems.first?.line, 10, error.description)
            XCTAssertEqual(error.problems.first?.field, "colour")
        }
    }

    func testAnUnterminatedCommentNamesLineAndColumn() {
        let text = "{\n  \"templateType\": \"CollectionFhir\",\n  \"template\": [] /* left open\n}"
        do {
            _ = try FHIRTemplateCollection(parsing: text, source: "fhirmapping.json")
            XCTFail("an unterminated comment was accepted")
        } catch {
            XCTAssertEqual(error.problems.first?.line, 3)
            XCTAssertTrue(error.description.contains("line 3, column 18"), error.description)
            XCTAssertTrue(error.description.contains("unterminated /* comment"), error.description)
        }
        do {
            _ = try DeviceTemplateCollection(parsing: "{\"templateType\": \"CollectionContent\", /* open", source: "devicecontent.json")
            XCTFail("an unterminated comment was accepted")
        } catch {
            XCTAssertTrue(error.description.contains("line 1, column 39"), error.description)
        }
    }
}
