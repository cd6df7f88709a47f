import FHIRConventions
import EdgeCore
import EdgeCrypto
import FHIRModel
import JSONQuery
import Mapping
import XCTest

final class FHIRConversionTests: XCTestCase {
    private let hour = Timestamp(Timestamp.Components(year: 2019, month: 2, day: 1, hour: 22))
    private let issued = Timestamp(secondsSinceEpoch: 1_700_000_000)

    private func templates(_ bodies: String...) throws -> FHIRTemplateCollection {
        let items = bodies.map { #"{"templateType":"CodeValueFhir","template":\#($0)}"# }
        return try FHIRTemplateCollection(parsing: #"{"templateType":"CollectionFhir","template":["# + items.joined(separator: ",") + "]}", source: "t")
    }

    private lazy var standard: FHIRTemplateCollection = try! templates(
        #"{"typeName":"weight","periodInterval":60,"codes":[{"code":"29463-7","system":"http://loinc.org"}],"value":{"valueType":"Quantity","valueName":"kg","unit":"kg"}}"#,
        #"{"typeName":"hr","periodInterval":60,"codes":[],"value":{"valueType":"SampledData","valueName":"hr","defaultPeriod":1000,"unit":"/min"}}"#,
        #"{"typeName":"note","periodInterval":0,"codes":[],"value":{"valueType":"String","valueName":"text"}}"#,
        #"{"typeName":"odd","periodInterval":30,"codes":[]}"#,
        #"{"typeName":"session","periodInterval":-1,"codes":[],"value":{"valueType":"SampledData","valueName":"hr","defaultPeriod":60000}}"#,
        #"{"typeName":"steps","periodInterval":"Daily","codes":[],"value":{"valueType":"SampledData","valueName":"n","defaultPeriod":60000}}"#
    )

    private func reading(
        _ type: String, _ name: String, _ value: String, at offsetMs: Int64, ingested: Int64? = nil,
        device: String = "dev", patient: String? = "pat", correlation: String? = nil
    ) -> Mapping.Measurement {
        Mapping.Measurement(
            type: type, occurrenceTime: hour.adding(milliseconds: offsetMs),
            ingestionTime: ingested.map { Timestamp(millisecondsSinceEpoch: $0) }, deviceId: device,
            patientId: patient, correlationId: correlation, properties: [.init(name: name, value: value)])
    }

    func testSameTimeKeepsTheLatestIngestion() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([
            reading("weight", "kg", "70", at: 5000, ingested: 2),
            reading("weight", "kg", "71", at: 5000, ingested: 3),
            reading("weight", "kg", "72", at: 5000, ingested: 1),
        ], issued: issued)
        XCTAssertEqual(result.errors.count, 0, "\(result.errors)")
        XCTAssertEqual(result.observations.first?.value, .quantity(Quantity(value: FHIRDecimal("71"), unit: "kg")))
    }

    func testQuantityNeedsExactlyOneValueAndFailuresStayInTheirGroup() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([
            reading("weight", "kg", "70.25", at: 1000),
            reading("weight", "kg", "70.5", at: 2000),                 // same hour: two values
            reading("weight", "kg", "98.43639286275842", at: 3_600_000),  // next hour: fine
            reading("mystery", "x", "1", at: 0),
            reading("hr", "hr", "60", at: 0),
        ], issued: issued)
        XCTAssertEqual(result.errors.map(\.type), ["InvalidQuantityFhirValueException", "TemplateNotFoundException"])
        let quantityError = try XCTUnwrap(result.errors.first)
        XCTAssertEqual(quantityError.measurementType, "weight")
        XCTAssertEqual(quantityError.segment, "20190201220000Z.20190201225959Z")
        XCTAssertEqual(quantityError.measurements.count, 2)
        XCTAssertFalse(quantityError.description.contains("70.25"), "messages carry no values")
        XCTAssertFalse(quantityError.description.contains("pat"), "nor patient ids: \(quantityError.description)")
        XCTAssertTrue(quantityError.message.contains("Received 2"))
        XCTAssertEqual(result.observations.count, 2)
        XCTAssertEqual(JSONWriter().string(try XCTUnwrap(result.observations.first?.value).json), #"{"value":98.43639286275842,"unit":"kg"}"#)
        XCTAssertEqual(result.observations.first?.effectivePeriod, Period(start: "2019-02-01T23:00:00.000Z", end: "2019-02-01T23:59:59.999Z"))
        XCTAssertEqual(result.observations.first?.issued, issued.iso8601)
    }

    func testQuantityParsesLikeInvariantDecimal() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        for (text, json) in [("1,000", "1000"), (" +72.50 ", "72.5"), (".5", "0.5"), ("-3", "-3"), ("007", "7")] {
            let result = converter.convert([reading("weight", "kg", text, at: 0)], issued: issued)
            guard case .quantity(let q)? = result.observations.first?.value else { XCTFail(text); continue }
            XCTAssertEqual(q.value.map { JSONWriter().string($0.json) }, json, text)
        }
        for text in ["abc", "1e5", "", "1.2.3", "NaN"] {
            let result = converter.convert([reading("weight", "kg", text, at: 0)], issued: issued)
            XCTAssertEqual(result.errors.map(\.type), ["InvalidQuantityFhirValueException"], text)
        }
    }

    /// With a profile's IEEE 11073 table, exactly the special-value names become a
    /// dataAbsentReason in place of the value; every other text fails as MedTech's does.
    func testSpecialValuesBecomeDataAbsentReasonOnlyWhenAsked() throws {
        var converter = ObservationConverter(templates: standard, identity: .none)
        converter.dataAbsentValues = .ieee11073
        for (text, code) in [("NaN", "not-a-number"), ("NRes", "error"), ("+INF", "positive-infinity"), ("-INF", "negative-infinity"), ("RFU", "error")] {
            let result = converter.convert([reading("weight", "kg", text, at: 0)], issued: issued)
            XCTAssertEqual(result.errors.map(\.type), [], text)
            let observation = try XCTUnwrap(result.observations.first, text)
            XCTAssertNil(observation.value, text)
            let reason = observation.json["dataAbsentReason"]
            XCTAssertEqual(reason?["coding"]?.arrayValue?.first?["system"], "http://terminology.hl7.org/CodeSystem/data-absent-reason", text)
            XCTAssertEqual(reason?["coding"]?.arrayValue?.first?["code"]?.stringValue, code, text)
            XCTAssertEqual(reason?["text"]?.stringValue, text)
        }
        for text in ["nan", "Infinity", "abc"] {
            let result = converter.convert([reading("weight", "kg", text, at: 0)], issued: issued)
            XCTAssertEqual(result.errors.map(\.type), ["InvalidQuantityFhirValueException"], text)
        }
    }

    func testGroupLevelFailures() {
        let converter = ObservationConverter(templates: standard, identity: .create(deviceSystem: nil))
        let result = converter.convert([
            reading("odd", "x", "1", at: 0),
            reading("session", "hr", "1", at: 0),
            reading("hr", "hr", "60", at: 0, patient: nil),
            reading("hr", "hr", "61", at: 0, device: "ok"),
        ], issued: issued)
        XCTAssertEqual(result.errors.map(\.type), ["NotSupportedException", "CorrelationIdNotDefinedException", "ResourceIdentityNotDefinedException"])
        XCTAssertEqual(result.observations.count, 1)
    }

    func testSampledDataWindowsAndCorrelationGroups() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([
            reading("hr", "hr", "60", at: 2000),
            reading("hr", "hr", "62", at: 2500),
            reading("hr", "hr", "61", at: 0),
            reading("session", "hr", "70", at: 120_000, correlation: "s1"),
            reading("session", "hr", "71", at: 0, correlation: "s1"),
            reading("steps", "n", "5", at: 60_000),
        ], issued: issued)
        XCTAssertEqual(result.errors.count, 0)
        guard result.observations.count == 3,
            case .sampledData(let hr)? = result.observations[0].value,
            case .sampledData(let session)? = result.observations[1].value,
            case .sampledData(let steps)? = result.observations[2].value
        else { return XCTFail("\(result.observations.map(\.json))") }
        let tokens = hr.data?.split(separator: " ") ?? []
        XCTAssertEqual(tokens.count, 3600)
        XCTAssertEqual(tokens.prefix(4), ["61", "E", "62", "E"])
        XCTAssertEqual(session.data, "71 E 70")
        XCTAssertEqual(result.observations[1].effectivePeriod, Period(start: "2019-02-01T22:00:00.000Z", end: "2019-02-01T22:02:00.000Z"))
        XCTAssertEqual(steps.data?.split(separator: " ").count, 1440)
        XCTAssertEqual(result.observations[2].effectivePeriod, Period(start: "2019-02-01T00:00:00.000Z", end: "2019-02-01T23:59:59.999Z"))
        XCTAssertEqual(steps.origin, Quantity(value: FHIRDecimal(0)))
    }

    func testTypeLookupIsCaseInsensitiveButKeepsTheMeasurementSpelling() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([reading("WEIGHT", "kg", "1", at: 0)], issued: issued)
        let code = try XCTUnwrap(result.observations.first?.code)
        XCTAssertEqual(code.text, "WEIGHT")
        XCTAssertEqual(code.coding.map(\.code), ["29463-7", "WEIGHT"])
    }

    func testEveryReadingIsItsOwnObservationWithMillisecondIds() throws {
        let converter = ObservationConverter(templates: standard, identity: .create(deviceSystem: "urn:sys"))
        let result = converter.convert([
            reading("note", "text", "first", at: 1100),
            reading("note", "text", "second", at: 1700),
            reading("note", "text", "third", at: 1701),
        ], issued: issued)
        XCTAssertEqual(result.errors.count, 0)
        XCTAssertEqual(result.observations.map(\.value), [.string("first"), .string("second"), .string("third")])
        XCTAssertEqual(result.observations.map(\.status), [.final, .final, .final])
        XCTAssertEqual(Set(result.observations.compactMap(\.id)).count, 3, "one id per reading")
        let observation = try XCTUnwrap(result.observations.first)
        XCTAssertEqual(observation.effectivePeriod, Period(start: "2019-02-01T22:00:01.100Z", end: "2019-02-01T22:00:01.100Z"))
        let patient = SHA256.hexDigest("_pat"), device = SHA256.hexDigest("urn:sys_dev")
        let value = "\(patient).\(device).note.20190201220001100Z.20190201220001100Z"
        XCTAssertEqual(observation.identifier, [Identifier(system: ResourceIds.connectorSystem, value: value)])
        XCTAssertEqual(observation.id, SHA256.hexDigest(ResourceIds.connectorSystem + "_" + value))
        XCTAssertEqual(observation.subject?.reference, "Patient/\(patient)")
        XCTAssertEqual(observation.device?.reference, "Device/\(device)")
        XCTAssertEqual(ResourceIdentity.createModeDevice(deviceId: "dev", system: "urn:sys", patientResourceId: patient).id, device)
    }

    func testAResentReadingGetsTheSameIdInAnotherBatch() throws {
        let converter = ObservationConverter(templates: standard, identity: .create(deviceSystem: nil))
        let first = converter.convert([reading("note", "text", "a", at: 1100, ingested: 1)], issued: issued)
        let resent = converter.convert([reading("note", "text", "a", at: 1100, ingested: 9)], issued: issued)
        let next = converter.convert([reading("note", "text", "a", at: 1101, ingested: 9)], issued: issued)
        XCTAssertEqual(first.observations.first?.id, resent.observations.first?.id)
        XCTAssertNotEqual(first.observations.first?.id, next.observations.first?.id)
    }

    func testSecondPrecisionIdsMergeReadingsOfOneSecondAsUpstream() throws {
        let converter = ObservationConverter(templates: standard, identity: .create(deviceSystem: "urn:sys"), idPrecision: .second)
        let result = converter.convert([
            reading("note", "text", "first", at: 1100),
            reading("note", "text", "second", at: 1700),
        ], issued: issued)
        XCTAssertEqual(result.errors.count, 0)
        XCTAssertEqual(result.observations.count, 1)
        let observation = try XCTUnwrap(result.observations.first)
        XCTAssertEqual(observation.value, .string("second"))
        XCTAssertEqual(observation.status, .final)
        XCTAssertEqual(observation.effectivePeriod, Period(start: "2019-02-01T22:00:01.100Z", end: "2019-02-01T22:00:01.700Z"))
        let patient = SHA256.hexDigest("_pat"), device = SHA256.hexDigest("urn:sys_dev")
        let value = "\(patient).\(device).note.20190201220001Z.20190201220001Z"
        XCTAssertEqual(observation.identifier, [Identifier(system: ResourceIds.connectorSystem, value: value)])
        XCTAssertEqual(observation.id, SHA256.hexDigest(ResourceIds.connectorSystem + "_" + value))
    }

    func testHourlyIdsKeepUpstreamSecondSegmentsWhateverThePrecision() throws {
        let result = ObservationConverter(templates: standard, identity: .create(deviceSystem: nil))
            .convert([reading("weight", "kg", "70", at: 1234)], issued: issued)
        let value = try XCTUnwrap(result.observations.first?.identifier.first?.value)
        XCTAssertTrue(value.hasSuffix(".weight.20190201220000Z.20190201225959Z"), value)
    }

    func testSameTimeAndSameIngestionTimeKeepsTheLaterReceivedMessage() throws {
        // A reading and its correction posted in one request share the ingestion time; the
        // receive sequence (the inbox row id) says which came last.
        func corrected(_ value: String, sequence: Int64) -> Mapping.Measurement {
            var measurement = reading("weight", "kg", value, at: 5000, ingested: 7)
            measurement.receiveSequence = sequence
            return measurement
        }
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([corrected("70", sequence: 41), corrected("71", sequence: 42)], issued: issued)
        XCTAssertEqual(result.observations.first?.value, .quantity(Quantity(value: FHIRDecimal("71"), unit: "kg")))
        let reversed = converter.convert([corrected("71", sequence: 42), corrected("70", sequence: 41)], issued: issued)
        XCTAssertEqual(reversed.observations.first?.value, .quantity(Quantity(value: FHIRDecimal("71"), unit: "kg")))
    }

    func testStringNeedsExactlyOneValue() throws {
        let t = try templates(#"{"typeName":"note","periodInterval":60,"codes":[],"value":{"valueType":"String","valueName":"text"}}"#)
        let result = ObservationConverter(templates: t, identity: .none).convert([
            reading("note", "text", "a", at: 0), reading("note", "text", "b", at: 1000),
        ], issued: issued)
        XCTAssertEqual(result.errors.map(\.type), ["InvalidOperationException"])
    }

    func testNonNumericSampledDataReadingsAreLeftOutAndReported() throws {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([
            reading("hr", "hr", "60", at: 0),
            reading("hr", "hr", "n/a", at: 1000),
            reading("hr", "hr", "1,000", at: 2000),
        ], issued: issued)
        XCTAssertEqual(result.errors.map(\.type), ["InvalidSampledDataValueException"])
        XCTAssertEqual(result.errors.first?.measurements.map(\.properties.first?.value), ["n/a"])
        XCTAssertFalse(result.errors.first?.description.contains("n/a") ?? true)
        guard case .sampledData(let hr)? = result.observations.first?.value else { return XCTFail("no observation") }
        XCTAssertEqual(hr.data?.split(separator: " ").prefix(4), ["60", "E", "1000", "E"])
    }

    func testOversizedSampledDataWindowsAreRefusedNotAllocated() {
        let converter = ObservationConverter(templates: standard, identity: .none)
        let result = converter.convert([
            reading("session", "hr", "1", at: 0, correlation: "long"),
            reading("session", "hr", "2", at: 1000 * 86_400_000, correlation: "long"),  // 1.44 million 60 s slots
            reading("hr", "hr", "60", at: 0),
        ], issued: issued)
        XCTAssertEqual(result.errors.map(\.type), ["NotSupportedException"])
        XCTAssertEqual(result.observations.count, 1)
    }
}
