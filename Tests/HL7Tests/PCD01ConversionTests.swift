import EdgeCore
import FHIRModel
import Foundation
import HL7
import JSONQuery
import Mapping
import TestSupport
import XCTest

final class PCD01ConversionTests: XCTestCase {
    static let folder = Conformance.packageRoot.appendingPathComponent("device-profiles/hl7-pcd01-vitals")

    static func sample(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: folder.appendingPathComponent("testcases/\(name)")))
    }

    private func convert(_ text: String) throws -> PCD01Conversion.Result {
        try PCD01Conversion().convert(try ER7Parser().parse(text))
    }

    private func failure(_ text: String) -> HL7Error? {
        do {
            _ = try convert(text)
            return nil
        } catch let error as HL7Error {
            return error
        } catch {
            return nil
        }
    }

    func testBedsideMonitorMessage() throws {
        let result = try PCD01Conversion().convert(try ER7Parser().parse(try Self.sample("bedside-monitor.hl7")))
        let message = result.message
        XCTAssertEqual(result.deviceID, "0123456789ABCDEF")
        XCTAssertEqual(message["messageControlId"], "MSG00001")
        XCTAssertEqual(message["sendingFacility"], "ICU-EAST")
        XCTAssertEqual(message["patientId"], "HO2009001")
        let identifiers = message["patient"]?["identifiers"]?.arrayValue ?? []
        XCTAssertEqual(identifiers.count, 2)
        XCTAssertEqual(identifiers[0]["system"], "urn:oid:1.2.3.4.5")
        XCTAssertEqual(identifiers[0]["assigningAuthority"], "Hospital")
        XCTAssertEqual(identifiers[1]["type"], "SS")
        XCTAssertEqual(identifiers[1]["system"], "urn:oid:2.16.840.1.113883.4.1")
        // MDS, VMD and the NIBP channel describe equipment; every metric with a value is an observation.
        XCTAssertEqual(message["devices"]?.arrayValue?.compactMap { $0["level"]?.stringValue }, ["mds", "vmd", "channel"])
        let observations = message["observations"]?.arrayValue ?? []
        XCTAssertEqual(observations.compactMap { $0["code"]?.stringValue },
                       ["150456", "149530", "147842", "150021", "150022", "150023", "150364", "151562", "0"])
        XCTAssertEqual(result.observationCount, 9)
        let spo2 = observations[0]
        XCTAssertEqual(spo2["value"], 98)
        XCTAssertEqual(spo2["unit"], "%")
        XCTAssertEqual(spo2["unitCode"], "262688")
        XCTAssertEqual(spo2["hierarchy"], "1.1.1.1")
        XCTAssertEqual(spo2["level"], "metric")
        XCTAssertEqual(spo2["channel"], 1)
        XCTAssertEqual(spo2["status"], "R")
        XCTAssertEqual(spo2["time"], "2026-12-06T09:14:55.000Z")
        XCTAssertEqual(spo2["referenceRange"], "90-100")
        XCTAssertEqual(spo2["deviceId"], "0123456789ABCDEF", "inherited from the MDS's OBX-18")
        XCTAssertEqual(spo2["deviceIdType"], "EUI-64")
        XCTAssertEqual(spo2["patientId"], "HO2009001")
        XCTAssertEqual(observations[6]["value"]?.doubleValue, 36.8)
        XCTAssertEqual(observations[6]["unit"], "Cel")
        XCTAssertEqual(observations[8]["value"], "lead | probe ok\\")
        XCTAssertEqual(observations[8]["level"], "facet")
    }

    func testPRTDeviceAndUCUMUnitsAndNoZone() throws {
        let result = try PCD01Conversion().convert(try ER7Parser().parse(try Self.sample("spot-check-v27.hl7")))
        let observations = result.message["observations"]?.arrayValue ?? []
        XCTAssertEqual(observations.count, 2)
        // OBX 1 has no OBX-14: OBR-7's time; no offset anywhere: UTC.
        XCTAssertEqual(observations[0]["time"], "2026-12-06T08:00:00.000Z")
        XCTAssertEqual(observations[0]["unit"], "[degF]")
        XCTAssertEqual(observations[0]["deviceId"], "0011223344556677", "MSH-3's EUI-64 without OBX-18 or PRT")
        XCTAssertEqual(observations[1]["deviceId"], "AABBCCDDEEFF0011", "the PRT following the OBX")
        XCTAssertEqual(observations[1]["unit"], "%")
        XCTAssertEqual(result.message["patientId"], "MRN-5")
    }

    func testValueTypes() throws {
        let head = "MSH|^~\\&|Mon|F|||20261206100000+0000||ORU^R01|1|P|2.6\rOBR|1\r"
        let result = try convert(head + [
            "OBX|1|NM|1^A^MDC|1.1.1.1|+007.50|",
            "OBX|2|SN|2^B^MDC|1.1.1.2|>^100|",
            "OBX|3|SN|3^C^MDC|1.1.1.3|^5|",
            "OBX|4|CWE|4^D^MDC|1.1.1.4|192^MDC_EVT_LO^MDC|",
            "OBX|5|NA|5^E^MDC|1.1.1.5|1^2.5^-3|",
            "OBX|6|DTM|6^F^MDC|1.1.1.6|20261206113000+0130|",
            "OBX|7|NM|7^G^MDC|1.1.1.7||||||X",
            "OBX|8|NM|8^H^MDC|1.1.1.8|-.5|",
        ].joined(separator: "\r"))
        let values = (result.message["observations"]?.arrayValue ?? []).map { $0["value"] }
        XCTAssertEqual(values.count, 7)
        XCTAssertEqual(values[0]?.doubleValue, 7.5)
        XCTAssertEqual(values[1], ["number": 100, "comparator": ">"])
        XCTAssertEqual(values[2], 5)
        XCTAssertEqual(values[3], ["code": "192", "text": "MDC_EVT_LO", "system": "MDC"])
        XCTAssertEqual(values[4]?.arrayValue?.count, 3)
        XCTAssertEqual(values[5], "2026-12-06T10:00:00.000Z")
        XCTAssertEqual(values[6]?.doubleValue, -0.5)
    }

    func testProblemsAreLocated() {
        let head = "MSH|^~\\&|Mon|F|||20261206100000+0000||ORU^R01|1|P|2.6\r"
        XCTAssertEqual(failure(head.replacingOccurrences(of: "ORU^R01", with: "ADT^A01"))?.code, .unsupportedMessageType)
        XCTAssertEqual(failure(head.replacingOccurrences(of: "ORU^R01", with: "ORU^R40"))?.code, .unsupportedEventCode)
        XCTAssertEqual(failure(head.replacingOccurrences(of: "|2.6", with: "|2.9"))?.code, .unsupportedVersionID)
        XCTAssertEqual(failure(head.replacingOccurrences(of: "|1|P|", with: "||P|"))?.location?.description, "MSH-10")
        XCTAssertEqual(failure(head.replacingOccurrences(of: "|P|", with: "|Q|"))?.code, .unsupportedProcessingID)
        XCTAssertEqual(failure(head + "OBX|1|NM|1^A^MDC|1.1.1.1|5\r")?.code, .segmentSequence)
        XCTAssertEqual(failure(head + "PID|||X\r")?.location?.segment, "OBR")
        XCTAssertEqual(failure(head + "OBR|1\rOBX|1|NM|1^A^MDC|1.1.1.1|five\r")?.location?.description, "OBX-5")
        XCTAssertEqual(failure(head + "OBR|1\rOBX|1|NM||1.1.1.1|5\r")?.location?.description, "OBX-3")
        XCTAssertEqual(failure(head + "OBR|1\rOBX|1|NM|1^A^MDC|1.1.1.1|5||||||R|||2026-12-06\r")?.location?.description, "OBX-14")
        XCTAssertEqual(failure(head.replacingOccurrences(of: "|Mon|", with: "||") + "OBR|1\rOBX|1|NM|1^A^MDC|1.1.1.1|5\r")?.location?.description, "OBX-18")
        XCTAssertNil(failure(head + "OBR|1\rOBX|1|NM|1^A^MDC|1.1.1.1|5\r"))
        for version in ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"] {
            XCTAssertNil(failure(head.replacingOccurrences(of: "|2.6", with: "|" + version) + "OBR|1\r"), version)
        }
    }

    /// The bundled profile's golden cases: each `.hl7` file converted and mapped by the real
    /// template engine gives the Observations of its `-expected.json`.
    func testBundledProfileGoldenCases() throws {
        let devicePath = Self.folder.appendingPathComponent("devicecontent.json").path
        let fhirPath = Self.folder.appendingPathComponent("fhirmapping.json").path
        let device = try DeviceTemplateCollection(parsing: try String(contentsOfFile: devicePath, encoding: .utf8), source: devicePath)
        let templates = try FHIRTemplateCollection(parsing: try String(contentsOfFile: fhirPath, encoding: .utf8), source: fhirPath)
        let converter = ObservationConverter(
            templates: templates, identity: .create(deviceSystem: "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"))
        let testcases = Self.folder.appendingPathComponent("testcases")
        let inputs = try FileManager.default.contentsOfDirectory(atPath: testcases.path).filter { $0.hasSuffix(".hl7") }.sorted()
        XCTAssertEqual(inputs.count, 2)
        var total = 0
        for input in inputs {
            let converted = try PCD01Conversion().convert(try ER7Parser().parse(try Self.sample(input)))
            let measurements = try device.normalize(converted.message)
            let result = converter.convert(measurements, issued: Timestamp(millisecondsSinceEpoch: 0))
            XCTAssertEqual(result.errors.map(\.message), [], input)
            let observations = result.observations.map { observation -> JSONValue in
                var object = observation.json.objectValue ?? JSONObject()
                object["issued"] = nil
                object["meta"] = nil
                return .object(object)
            }
            let got: JSONValue = ["message": converted.message, "observations": .array(observations)]
            let expectedFile = testcases.appendingPathComponent(input.replacingOccurrences(of: ".hl7", with: "-expected.json"))
            if ProcessInfo.processInfo.environment["FHIR_EDGE_WRITE_GOLDEN"] == "1" {
                try JSONWriter(options: .pretty).string(got).write(to: expectedFile, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try JSONValue(parsing: try Data(contentsOf: expectedFile))
            let canonical = { (value: JSONValue) throws -> JSONValue in try JSONValue(parsing: JSONWriter(options: .sortedKeys).string(value)) }
            XCTAssertEqual(try canonical(got), try canonical(expected), input)
            for observation in observations {
                let codings = observation["code"]?["coding"]?.arrayValue ?? []
                XCTAssertEqual(codings.first?["system"], "http://loinc.org", input)
                XCTAssertTrue(codings.contains { $0["system"] == "urn:iso:std:iso:11073:10101" }, input)
                XCTAssertEqual(observation["category"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"], "vital-signs")
                XCTAssertEqual(observation["valueQuantity"]?["system"], "http://unitsofmeasure.org")
                XCTAssertNotNil(observation["effectivePeriod"]?["start"])
            }
            total += observations.count
        }
        XCTAssertEqual(total, 10)
        print("hl7-pcd01-vitals: \(inputs.count) messages, \(total) Observations")
    }
}
