import XCTest
import EdgeCore
import JSONQuery
@testable import Mapping

/// Builds a one-template collection around a template body given as JSON text.
func deviceCollection(kind: String = "JsonPathContent", _ body: String, file: StaticString = #filePath, line: UInt = #line) throws -> DeviceTemplateCollection {
    let text = #"{"templateType": "CollectionContent", "template": [{"templateType": "\#(kind)", "template": \#(body)}]}"#
    return try DeviceTemplateCollection(parsing: text, source: "test.json")
}

func json(_ text: String) -> JSONValue {
    (try? JSONValue(parsing: text)) ?? .null
}

final class NormalizationValueTextTests: XCTestCase {
    func testDotNetNumberFormatting() {
        XCTAssertEqual(ValueText.string(.int(7)), "7")
        XCTAssertEqual(ValueText.string(.int(-40)), "-40")
        XCTAssertEqual(ValueText.string(.double(1.0)), "1")
        XCTAssertEqual(ValueText.string(.double(-2.0)), "-2")
        XCTAssertEqual(ValueText.string(.double(3.5)), "3.5")
        XCTAssertEqual(ValueText.string(.double(98.43639286275842)), "98.43639286275842")
        XCTAssertEqual(ValueText.string(.double(78 * 0.0254)), "1.9811999999999999")
        XCTAssertEqual(ValueText.string(.double(0.0254)), "0.0254")
        XCTAssertEqual(ValueText.string(.double(0.0001)), "0.0001")
        XCTAssertEqual(ValueText.string(.double(0.00001)), "1E-05")
        XCTAssertEqual(ValueText.string(.double(1.5e-7)), "1.5E-07")
        XCTAssertEqual(ValueText.string(.double(1e14)), "100000000000000")
        XCTAssertEqual(ValueText.string(.double(1e15)), "1E+15")
        XCTAssertEqual(ValueText.string(.double(1.2345678901234568e20)), "1.2345678901234568E+20")
        XCTAssertEqual(ValueText.string(.double(123456.789)), "123456.789")
        XCTAssertEqual(ValueText.string(.double(-0.0)), "-0")
        XCTAssertEqual(ValueText.string(.double(0.1 + 0.2)), "0.30000000000000004")
        XCTAssertEqual(ValueText.string(.double(.leastNonzeroMagnitude)), "5E-324")
        XCTAssertEqual(ValueText.string(.double(.infinity)), "Infinity")
    }

    /// Integers beyond Int64 print as their digits (Json.NET's BigInteger); other kept numbers
    /// keep all their significant digits in the layout doubles use.
    func testKeptNumbersKeepEveryDigit() {
        XCTAssertEqual(ValueText.string(json("12345678901234567891")), "12345678901234567891")
        XCTAssertEqual(ValueText.string(json("-98765432109876543210987")), "-98765432109876543210987")
        XCTAssertEqual(ValueText.string(json("36.12345678901234567890123")), "36.12345678901234567890123")
        XCTAssertEqual(ValueText.string(json("0.000012345678901234567890123")), "1.2345678901234567890123E-05")
        XCTAssertEqual(ValueText.string(json("1.234567890123456789012345e20")), "1.234567890123456789012345E+20")
        XCTAssertEqual(ValueText.string(json("12345.67890123456789012345000")), "12345.67890123456789012345")
        XCTAssertEqual(ValueText.string(json("1e999999")), "1E+999999")
        XCTAssertEqual(ValueText.string(json("-2.5e-999999")), "-2.5E-999999")
        XCTAssertEqual(ValueText.string(json("0e-999999")), "0")
    }

    func testOtherKinds() {
        XCTAssertEqual(ValueText.string(.bool(true)), "True")
        XCTAssertEqual(ValueText.string(.bool(false)), "False")
        XCTAssertEqual(ValueText.string(.string("2019-02-01T22:46:01.875Z")), "2019-02-01T22:46:01.875Z", "date strings stay as written")
        XCTAssertEqual(ValueText.string(.string("")), "")
        XCTAssertNil(ValueText.string(.null))
        XCTAssertNil(ValueText.string(.array([1])))
        XCTAssertNil(ValueText.string(.object(["a": 1])))
    }

    func testBlank() {
        XCTAssertTrue(ValueText.isBlank(""))
        XCTAssertTrue(ValueText.isBlank(" \t\r\n"))
        XCTAssertTrue(ValueText.isBlank("\u{00A0}\u{2003}"))
        XCTAssertFalse(ValueText.isBlank(" x "))
        XCTAssertFalse(ValueText.isBlank("0"))
    }
}

final class NormalizationExtractionTests: XCTestCase {
    private let simple = #"""
    {"typeName": "hr", "typeMatchExpression": "$.Body", "deviceIdExpression": "$.device",
     "timestampExpression": "$.date", "patientIdExpression": "$.patient", "encounterIdExpression": "$.encounter",
     "values": [{"valueName": "hr", "valueExpression": "$.hr", "required": true},
                {"valueName": "spo2", "valueExpression": "$.spo2"}]}
    """#

    func testExtractsAgainstTheMatchedNode() throws {
        let collection = try deviceCollection(simple)
        let ingestion = Timestamp(millisecondsSinceEpoch: 42)
        let out = try collection.normalize(
            json(#"{"Body": {"device": "d1", "date": "2019-02-01T23:46:01.875+01:00", "hr": 72.0, "spo2": true, "patient": ""}}"#),
            ingestionTime: ingestion)
        XCTAssertEqual(out, [Measurement(
            type: "hr", occurrenceTime: Timestamp(millisecondsSinceEpoch: 1_549_061_161_875), ingestionTime: ingestion,
            deviceId: "d1", patientId: "", encounterId: nil,
            properties: [.init(name: "hr", value: "72"), .init(name: "spo2", value: "True")])])
    }

    func testOptionalValuesAreOmittedWhenMissingNullOrUnconvertible() throws {
        let collection = try deviceCollection(simple)
        for spo2 in ["null", "{}", "[1]", "absent"] {
            let member = spo2 == "absent" ? "" : #", "spo2": \#(spo2)"#
            let out = try collection.normalize(json(#"{"Body": {"device": "d", "date": "2019-02-01", "hr": "60"\#(member)}}"#))
            XCTAssertEqual(out.first?.properties, [.init(name: "hr", value: "60")], spo2)
        }
        // An empty optional string is kept; only required values reject blanks.
        let out = try collection.normalize(json(#"{"Body": {"device": "d", "date": "2019-02-01", "hr": "60", "spo2": ""}}"#))
        XCTAssertEqual(out.first?.properties.last, .init(name: "spo2", value: ""))
    }

    func testErrorOrderAndFields() throws {
        let collection = try deviceCollection(simple)
        func failure(_ body: String) -> NormalizationError? {
            do {
                _ = try collection.normalize(json(#"{"Body": \#(body)}"#))
                return nil
            } catch {
                return error
            }
        }
        // Device id is checked first, even when everything else is wrong too.
        var error = failure(#"{"device": "  ", "hr": null}"#)
        XCTAssertEqual(error?.type, "IncompatibleDataException")
        XCTAssertEqual(error?.field, "deviceIdExpression")
        XCTAssertEqual(error?.templateIndex, 0)
        XCTAssertEqual(error?.templateType, "JsonPathContent")
        XCTAssertEqual(error?.message, "Unable to extract required value for [DeviceIdExpression] using $.device")

        error = failure(#"{"device": "secret-device", "date": 1549061161}"#)
        XCTAssertEqual(error?.field, "timestampExpression")
        XCTAssertTrue(error?.message.contains("[TimestampExpression]") ?? false)
        XCTAssertFalse(error?.description.contains("1549061161") ?? true, "payload values stay out of errors")

        error = failure(#"{"device": "secret-device", "date": "yesterday at noon"}"#)
        XCTAssertEqual(error?.field, "timestampExpression")
        XCTAssertFalse(error?.description.contains("yesterday") ?? true)

        error = failure(#"{"device": "secret-device", "date": "2019-02-01", "hr": " "}"#)
        XCTAssertEqual(error?.field, "values[0].valueExpression")
        XCTAssertEqual(error?.message, "Unable to extract required value for [hr] using $.hr")
        XCTAssertFalse(error?.description.contains("secret") ?? true)
    }

    func testRequiredFailureDropsTheWholeMessage() throws {
        let text = #"""
        {"templateType": "CollectionContent", "template": [
          {"templateType": "JsonPathContent", "template": {"typeName": "a", "typeMatchExpression": "$",
            "deviceIdExpression": "$.d", "timestampExpression": "$.t", "values": [{"valueName": "a", "valueExpression": "$.a", "required": true}]}},
          {"templateType": "JsonPathContent", "template": {"typeName": "b", "typeMatchExpression": "$",
            "deviceIdExpression": "$.d", "timestampExpression": "$.t", "values": [{"valueName": "b", "valueExpression": "$.b", "required": "true"}]}}
        ]}
        """#
        let collection = try DeviceTemplateCollection(parsing: text, source: "t.json")
        XCTAssertEqual(collection.count, 2)
        XCTAssertEqual(try collection.normalize(json(#"{"d": "x", "t": "2019-02-01", "a": 1, "b": 2}"#)).map(\.type), ["a", "b"])
        XCTAssertThrowsError(try collection.normalize(json(#"{"d": "x", "t": "2019-02-01", "a": 1}"#))) { error in
            XCTAssertEqual((error as? NormalizationError)?.templateIndex, 1)
        }
    }

    func testCorrelationIdIsRequiredWhenDefined() throws {
        let collection = try deviceCollection(#"""
        {"typeName": "t", "typeMatchExpression": "$", "deviceIdExpression": "$.d", "timestampExpression": "$.t",
         "correlationIdExpression": "$.session", "values": []}
        """#)
        XCTAssertEqual(try collection.normalize(json(#"{"d": "x", "t": "2019-02-01", "session": 5}"#)).first?.correlationId, "5")
        XCTAssertThrowsError(try collection.normalize(json(#"{"d": "x", "t": "2019-02-01"}"#))) { error in
            XCTAssertEqual((error as? NormalizationError)?.message.hasPrefix("Unable to extract required value for [CorrelationIdExpression]"), true)
        }
    }

    /// Every identifier, and a passed-through value, keeps the exact text of a JSON number that
    /// neither Int64 nor Double holds, in both template kinds.
    func testNumericIdsAndValuesKeepTheirExactText() throws {
        let fields = #""typeName": "t", "values": [{"valueName": "v", "valueExpression": "VALUE", "required": true}]"#
        let jsonPath = try deviceCollection(#"{"typeMatchExpression": "$", "deviceIdExpression": "$.d", "timestampExpression": "$.t", "patientIdExpression": "$.p", "encounterIdExpression": "$.e", "correlationIdExpression": "$.c", "#
            + fields.replacingOccurrences(of: "VALUE", with: "$.v") + "}")
        let jmesPath = try deviceCollection(kind: "CalculatedContent", #"{"defaultExpressionLanguage": "JmesPath", "typeMatchExpression": "@", "deviceIdExpression": "d", "timestampExpression": "t", "patientIdExpression": "p", "encounterIdExpression": "e", "correlationIdExpression": "c", "#
            + fields.replacingOccurrences(of: "VALUE", with: "v") + "}")
        let message = json(#"{"d": 98765432109876543211, "p": 12345678901234567891, "e": -12345678901234567891, "c": 18446744073709551616, "t": "2019-02-01", "v": 1.234567890123456789012345}"#)
        for collection in [jsonPath, jmesPath] {
            let out = try XCTUnwrap(collection.normalize(message).first)
            XCTAssertEqual(out.deviceId, "98765432109876543211")
            XCTAssertEqual(out.patientId, "12345678901234567891")
            XCTAssertEqual(out.encounterId, "-12345678901234567891")
            XCTAssertEqual(out.correlationId, "18446744073709551616")
            XCTAssertEqual(out.properties, [.init(name: "v", value: "1.234567890123456789012345")])
        }
        let other = try XCTUnwrap(jsonPath.normalize(json(#"{"d": 98765432109876543212, "p": 12345678901234567892, "e": 1, "c": 2, "t": "2019-02-01", "v": 1}"#)).first)
        XCTAssertEqual(other.patientId, "12345678901234567892", "ids one apart stay apart")
        XCTAssertEqual(other.deviceId, "98765432109876543212")
    }

    func testCalculatedContentSeesMessageAndMatchedToken() throws {
        let collection = try deviceCollection(kind: "CalculatedContent", #"""
        {"typeName": "bp", "defaultExpressionLanguage": "JmesPath", "typeMatchExpression": "Body[?systolic]",
         "deviceIdExpression": "Properties.deviceId", "timestampExpression": {"value": "$.matchedToken.date", "language": "JsonPath"},
         "values": [{"valueName": "systolic", "valueExpression": "matchedToken.systolic", "required": true},
                    {"valueName": "doubled", "valueExpression": "multiply(matchedToken.n, `2`)"},
                    {"valueName": "when", "valueExpression": "fromUnixTimestamp(matchedToken.epoch)"}]}
        """#)
        let message = json(#"""
        {"Properties": {"deviceId": "dev"}, "matchedToken": "replaced",
         "Body": [{"systolic": 120, "date": "2019-02-01T22:46:01.875Z", "n": 2.5, "epoch": 1549061161},
                  {"diastolic": 80}, {"systolic": "122", "date": "2019-02-01T22:45:01Z", "n": 1, "epoch": 0}]}
        """#)
        let out = try collection.normalize(message)
        XCTAssertEqual(out.map(\.deviceId), ["dev", "dev"])
        XCTAssertEqual(out.map { $0.properties.map(\.name) }, [["systolic", "doubled", "when"], ["systolic", "doubled", "when"]])
        XCTAssertEqual(out.first?.properties.prefix(2).map(\.value), ["120", "5"])
        // fromUnixTimestamp yields an ISO 8601 string for the same instant.
        XCTAssertEqual(out.first.flatMap { Timestamp(parsingISO8601Lenient: $0.properties[2].value) }?.iso8601, "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(out.last?.properties.prefix(2).map(\.value), ["122", "2"], "integer multiply stays an integer")
        XCTAssertEqual(out.map(\.occurrenceTime.iso8601), ["2019-02-01T22:46:01.875Z", "2019-02-01T22:45:01.000Z"])
    }

    func testJMESPathEpochTimestampAndProjectionRules() throws {
        let collection = try deviceCollection(kind: "CalculatedContent", #"""
        {"typeName": "t", "defaultExpressionLanguage": "jmespath", "typeMatchExpression": "@",
         "deviceIdExpression": "device", "timestampExpression": "fromUnixTimestampMs(ms)",
         "values": [{"valueName": "one", "valueExpression": "readings[?ok].v", "required": false}]}
        """#)
        // A non-projection type match yields one match; a one-element projection value is an
        // array, which does not convert (optional: omitted).
        let one = try collection.normalize(json(#"{"device": "d", "ms": 1626799080000, "readings": [{"ok": true, "v": 1}]}"#))
        XCTAssertEqual(one.first?.occurrenceTime.iso8601, "2021-07-20T16:38:00.000Z")
        XCTAssertEqual(one.first?.properties, [])
        // Several nodes where one is expected fail the message.
        XCTAssertThrowsError(try collection.normalize(json(#"{"device": "d", "ms": 0, "readings": [{"ok": true, "v": 1}, {"ok": true, "v": 2}]}"#))) { error in
            XCTAssertEqual((error as? NormalizationError)?.field, "values[0].valueExpression")
        }
        // Function errors fail the message too.
        XCTAssertThrowsError(try collection.normalize(json(#"{"device": "d", "ms": "soon"}"#))) { error in
            XCTAssertEqual((error as? NormalizationError)?.field, "timestampExpression")
        }
    }

    func testJSONPathSelectingSeveralNodesFailsTheMessage() throws {
        let collection = try deviceCollection(#"""
        {"typeName": "t", "typeMatchExpression": "$..[?(@hr)]", "deviceIdExpression": "$.d", "timestampExpression": "$.t",
         "values": [{"valueName": "hr", "valueExpression": "$..v"}]}
        """#)
        XCTAssertEqual(try collection.normalize(json(#"{"hr": {"v": 1}, "d": "x", "t": "2019-02-01"}"#)).first?.properties,
                       [.init(name: "hr", value: "1")])
        XCTAssertThrowsError(try collection.normalize(json(#"{"hr": {"v": 1}, "v": 2, "d": "x", "t": "2019-02-01"}"#))) { error in
            let error = error as? NormalizationError
            XCTAssertEqual(error?.type, "JsonException")
            XCTAssertEqual(error?.field, "values[0].valueExpression")
            XCTAssertTrue(error?.message.contains("[hr] using $..v") ?? false)
        }
    }

    func testMalformedJSONPathIsALoadProblem() {
        XCTAssertThrowsError(try deviceCollection(#"""
        {"typeName": "t", "typeMatchExpression": "$..[?(@hr", "deviceIdExpression": "$.d", "timestampExpression": "$.t"}
        """#)) { error in
            let problem = (error as? TemplateLoadError)?.problems.first
            XCTAssertEqual(problem?.field, "typeMatchExpression")
            XCTAssertEqual(problem?.templateIndex, 0)
            XCTAssertNotNil(problem?.expressionColumn)
            XCTAssertEqual((error as? TemplateLoadError)?.problems.count, 1)
        }
    }

    func testIotHubFixedPathsAndFallback() throws {
        let collection = try deviceCollection(kind: "IotJsonPathContentTemplate", #"""
        {"typeName": "hr", "typeMatchExpression": "$", "deviceIdExpression": "$.ignored", "values": [{"valueName": "hr", "valueExpression": "$.Body.hr"}]}
        """#)
        let envelope = #"{"Body": {"hr": 60}, "SystemProperties": {"iothub-connection-device-id": "dev", "iothub-enqueuedtime": "2019-02-01T22:46:01.875Z"}, "Properties": {PROPS}}"#
        let fallback = try collection.normalize(json(envelope.replacingOccurrences(of: "{PROPS}", with: "{}")))
        XCTAssertEqual(fallback.first?.occurrenceTime.iso8601, "2019-02-01T22:46:01.875Z")
        XCTAssertEqual(fallback.first?.deviceId, "dev")
        let created = try collection.normalize(json(envelope.replacingOccurrences(of: "{PROPS}", with: #"{"iothub-creation-time-utc": "2019-01-30T22:45:02.6073744Z"}"#)))
        XCTAssertEqual(created.first?.occurrenceTime.iso8601, "2019-01-30T22:45:02.607Z")
        // Present but null is not "absent": no fallback.
        XCTAssertThrowsError(try collection.normalize(json(envelope.replacingOccurrences(of: "{PROPS}", with: #"{"iothub-creation-time-utc": null}"#))))
    }

    func testIotCentralFixedPaths() throws {
        let collection = try deviceCollection(kind: "iotcentraljsonpathcontent", #"""
        {"typeName": "t", "typeMatchExpression": "$.export", "values": [{"valueName": "v", "valueExpression": "$.telemetry.v", "required": true}]}
        """#)
        let out = try collection.normalize(json(#"{"export": {"deviceId": "c1", "enqueuedTime": "2020-08-05T22:26:55.455Z", "telemetry": {"v": 7}}}"#))
        XCTAssertEqual(out.first?.deviceId, "c1")
        XCTAssertEqual(out.first?.occurrenceTime.iso8601, "2020-08-05T22:26:55.455Z")
        XCTAssertEqual(out.first?.properties, [.init(name: "v", value: "7")])
    }
}
