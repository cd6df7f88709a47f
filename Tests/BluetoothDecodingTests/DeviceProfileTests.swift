import BluetoothDecoding
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping
import TestSupport
import XCTest

/// The `device-profiles/ble-*` templates, run through the real Mapping code: their golden cases,
/// the FHIR Vital Signs rules every Observation must meet, and the rig's exact payloads.
final class DeviceProfileTests: XCTestCase {
    static let profiles = [
        "ble-heart-rate", "ble-blood-pressure", "ble-thermometer", "ble-weight-scale", "ble-pulse-oximeter", "ble-glucose", "ble-bthome",
    ]
    static let loinc = "http://loinc.org"
    static let mdc = "urn:iso:std:iso:11073:10101"
    static let ucum = "http://unitsofmeasure.org"
    static let phdCategories = "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories"

    struct Profile {
        let folder: URL
        let device: DeviceTemplateCollection
        let converter: ObservationConverter

        init(_ name: String) throws {
            folder = Conformance.packageRoot.appendingPathComponent("device-profiles/\(name)")
            let devicePath = folder.appendingPathComponent("devicecontent.json").path
            let fhirPath = folder.appendingPathComponent("fhirmapping.json").path
            device = try DeviceTemplateCollection(parsing: try String(contentsOfFile: devicePath, encoding: .utf8), source: devicePath)
            let templates = try FHIRTemplateCollection(parsing: try String(contentsOfFile: fhirPath, encoding: .utf8), source: fhirPath)
            var converter = ObservationConverter(templates: templates, identity: .create(deviceSystem: nil))
            // profile.yaml's `observation.specialValues`, as the gateway loads it.
            let settings = (try? String(contentsOfFile: folder.appendingPathComponent("profile.yaml").path, encoding: .utf8)) ?? ""
            if settings.contains("specialValues: ieee11073") { converter.dataAbsentValues = .ieee11073 }
            self.converter = converter
        }

        /// `fhir-edge map`'s document for these messages, with `issued` and `meta` left out.
        func map(_ messages: [JSONValue]) -> JSONValue {
            var results: [JSONValue] = []
            var measurements: [Mapping.Measurement] = []
            for message in messages {
                do {
                    let normalized = try device.normalize(message)
                    measurements += normalized
                    results.append(["outcome": "measurements", "measurements": .array(normalized.map(\.normalizedJSON))])
                } catch {
                    results.append(["outcome": "error", "error": ["type": .string(error.type), "message": .string(error.message)]])
                }
            }
            let converted = converter.convert(measurements, issued: Timestamp(millisecondsSinceEpoch: 0))
            let observations = converted.observations.map { observation -> JSONValue in
                var object = observation.json.objectValue ?? JSONObject()
                object["issued"] = nil
                object["meta"] = nil
                return .object(object)
            }
            return [
                "results": .array(results), "observations": .array(observations),
                "errors": .array(converted.errors.map { ["type": .string($0.type), "message": .string($0.message)] }),
            ]
        }
    }

    /// Both sides as the writer renders them, so file and model go through the same number formatting.
    private func canonical(_ value: JSONValue) throws -> JSONValue {
        try JSONValue(parsing: JSONWriter(options: .sortedKeys).string(value))
    }

    func testGoldenCasesOfEveryProfile() throws {
        var cases = 0
        var observations = 0
        for name in Self.profiles {
            let profile = try Profile(name)
            let testcases = profile.folder.appendingPathComponent("testcases")
            let inputs = try FileManager.default.contentsOfDirectory(atPath: testcases.path).filter { $0.hasSuffix("-input.json") }.sorted()
            XCTAssertFalse(inputs.isEmpty, "\(name) has golden cases")
            for input in inputs {
                let messages = try XCTUnwrap(try JSONValue(parsing: try Data(contentsOf: testcases.appendingPathComponent(input))).arrayValue)
                let expectedFile = testcases.appendingPathComponent(input.replacingOccurrences(of: "-input.json", with: "-expected.json"))
                let expected = try JSONValue(parsing: try Data(contentsOf: expectedFile))
                let got = profile.map(messages)
                if ProcessInfo.processInfo.environment["FHIR_EDGE_WRITE_GOLDEN"] == "1" {
                    // Rewrites the expected file from the code under test: review its diff before committing.
                    var document = JSONObject()
                    document["results"] = got["results"]
                    document["observations"] = got["observations"]
                    document["errors"] = got["errors"]
                    try JSONWriter().string(.object(document)).write(to: expectedFile, atomically: true, encoding: .utf8)
                    continue
                }
                for part in ["results", "observations"] {
                    let gotPart = try canonical(got[part] ?? .null), wantPart = try canonical(expected[part] ?? .null)
                    // The first differing paths make a mismatch readable.
                    XCTAssertEqual(gotPart, wantPart, "\(name)/\(input) \(part): \(VectorComparison.differences(gotPart, wantPart).prefix(5))")
                }
                XCTAssertEqual(got["errors"], [], "\(name)/\(input): conversion errors")
                let built = got["observations"]?.arrayValue ?? []
                XCTAssertFalse(built.isEmpty, "\(name)/\(input) yields Observations")
                for observation in built { assertVitalSignsShape(observation, "\(name)/\(input)") }
                cases += messages.count
                observations += built.count
            }
        }
        print("BLE device profiles: \(Self.profiles.count) profiles, \(cases) golden messages, \(observations) Observations")
    }

    /// FHIR Vital Signs (and the PHD IG's second coding and `phd` category): final, a LOINC code first, an MDC code
    /// beside it, UCUM quantities, an effective time; vital-signs category except room temperature
    /// and glucose (neither is a vital sign).
    private func assertVitalSignsShape(_ observation: JSONValue, _ where_: String) {
        XCTAssertEqual(observation["status"], "final", where_)
        let codings = observation["code"]?["coding"]?.arrayValue ?? []
        XCTAssertEqual(codings.first?["system"], .string(Self.loinc), "\(where_): LOINC first")
        let loincCode = codings.first?["code"]?.stringValue ?? ""
        if loincCode != "60832-3" {
            XCTAssertTrue(codings.contains { $0["system"] == .string(Self.mdc) }, "\(where_) \(loincCode): MDC coding")
        }
        let category = observation["category"]?[0]?["coding"]?[0]?["code"]?.stringValue
        switch loincCode {
        case "60832-3": XCTAssertNil(category, where_)
        case "41653-7", "14743-9", "2345-7", "14749-6", "2339-0", "15074-8": XCTAssertEqual(category, "laboratory", where_)
        default: XCTAssertEqual(category, "vital-signs", "\(where_) \(loincCode)")
        }
        // The PHD IG's tag of an Observation from a personal health device (a room sensor is none).
        let phd = (observation["category"]?.arrayValue ?? []).contains { category in
            (category["coding"]?.arrayValue ?? []).contains { $0["system"] == .string(Self.phdCategories) && $0["code"] == "phd" }
        }
        XCTAssertEqual(phd, loincCode != "60832-3", "\(where_) \(loincCode): PHD category")
        XCTAssertNotNil(observation["effectivePeriod"]?["start"]?.stringValue, where_)
        var quantities = [observation["valueQuantity"]].compactMap { $0 }
        for component in observation["component"]?.arrayValue ?? [] {
            XCTAssertEqual(component["code"]?["coding"]?[0]?["system"], .string(Self.loinc), where_)
            XCTAssertTrue((component["code"]?["coding"]?.arrayValue ?? []).contains { $0["system"] == .string(Self.mdc) }, where_)
            quantities += [component["valueQuantity"]].compactMap { $0 }
        }
        // A special value (NaN...) is a dataAbsentReason in place of the value (Vital Signs vs-2, vs-3).
        let absent = [observation["dataAbsentReason"]].compactMap { $0 }
            + (observation["component"]?.arrayValue ?? []).compactMap { $0["dataAbsentReason"] }
        for reason in absent {
            XCTAssertEqual(reason["coding"]?.arrayValue?.first?["system"], "http://terminology.hl7.org/CodeSystem/data-absent-reason", where_)
        }
        XCTAssertFalse(quantities.isEmpty && absent.isEmpty, "\(where_): a value or the reason it is absent")
        for quantity in quantities {
            XCTAssertEqual(quantity["system"], .string(Self.ucum), where_)
            XCTAssertNotNil(quantity["code"]?.stringValue, where_)
            XCTAssertTrue(quantity["value"]?.isNumber ?? false, where_)
        }
    }

    // MARK: - The rig's payloads, end to end through decoder and templates

    let received = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 9, minute: 0, second: 0))

    private func observations(_ profile: String, _ characteristic: HealthCharacteristic, _ hex: String, device: String) throws -> [JSONValue] {
        let reading = try HealthDecoder.decode(characteristic, try XCTUnwrap(VectorComparison.bytes(hex: hex)))
        let message = reading.message(deviceID: device, receivedAt: received, patientID: "patient-ble-01")
        let mapped = try Profile(profile).map([message])
        XCTAssertEqual(mapped["errors"], [], profile)
        return mapped["observations"]?.arrayValue ?? []
    }

    private func find(_ observations: [JSONValue], loinc: String, mdc: String) -> JSONValue? {
        observations.first { observation in
            let codings = observation["code"]?["coding"]?.arrayValue ?? []
            return codings.contains { $0["code"] == .string(loinc) } && codings.contains { $0["code"] == .string(mdc) }
        }
    }

    private func assertQuantity(_ quantity: JSONValue?, _ value: Double, _ unit: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(quantity?["value"]?.doubleValue ?? .nan, value, accuracy: 1e-9, file: file, line: line)
        XCTAssertEqual(quantity?["code"], .string(unit), file: file, line: line)
        XCTAssertEqual(quantity?["system"], .string(Self.ucum), file: file, line: line)
    }

    func testRigHeartRateStrap() throws {
        for (hex, bpm) in zip(RigPayloads.heartRateSequence, RigPayloads.heartRateBPM) {
            let built = try observations("ble-heart-rate", .heartRateMeasurement, hex, device: "F0:00:00:00:18:0D")
            XCTAssertEqual(built.count, 1)
            let heartRate = try XCTUnwrap(find(built, loinc: "8867-4", mdc: "147842"))
            assertQuantity(heartRate["valueQuantity"], Double(bpm), "/min")
            XCTAssertEqual(heartRate["effectivePeriod"]?["start"], "2026-11-27T09:00:00.000Z", "no device clock: the receive time")
        }
    }

    func testRigBloodPressureCuff() throws {
        let built = try observations("ble-blood-pressure", .bloodPressureMeasurement, RigPayloads.bloodPressure, device: "F0:00:00:00:18:10")
        XCTAssertEqual(built.count, 2)
        let panel = try XCTUnwrap(find(built, loinc: "85354-9", mdc: "150020"))
        XCTAssertEqual(panel["effectivePeriod"]?["start"], "2024-01-15T08:30:00.000Z", "the cuff's own timestamp")
        XCTAssertNil(panel["valueQuantity"])
        let components = panel["component"]?.arrayValue ?? []
        XCTAssertEqual(components.map { $0["code"]?["coding"]?[0]?["code"]?.stringValue ?? "" }, ["8480-6", "8462-4", "8478-0"])
        for (component, value) in zip(components, [120.0, 80, 93]) { assertQuantity(component["valueQuantity"], value, "mm[Hg]") }
        let pulse = try XCTUnwrap(find(built, loinc: "8867-4", mdc: "149546"))
        assertQuantity(pulse["valueQuantity"], 72, "/min")
    }

    func testRigThermometerAndScale() throws {
        let temperature = try observations("ble-thermometer", .temperatureMeasurement, RigPayloads.thermometer, device: "F0:00:00:00:18:09")
        let body = try XCTUnwrap(find(temperature, loinc: "8310-5", mdc: "150364"))
        assertQuantity(body["valueQuantity"], 36.6, "Cel")
        XCTAssertEqual(body["effectivePeriod"]?["start"], "2024-01-15T08:31:00.000Z")

        let scale = try observations("ble-weight-scale", .weightMeasurement, RigPayloads.weightScale, device: "F0:00:00:00:18:1D")
        XCTAssertEqual(scale.count, 3)
        assertQuantity(find(scale, loinc: "29463-7", mdc: "188736")?["valueQuantity"], 72.4, "kg")
        assertQuantity(find(scale, loinc: "8302-2", mdc: "188740")?["valueQuantity"], 175, "cm")
        assertQuantity(find(scale, loinc: "39156-5", mdc: "188752")?["valueQuantity"], 23.6, "kg/m2")
        XCTAssertTrue(scale.allSatisfy { $0["effectivePeriod"]?["start"] == "2024-01-15T07:00:00.000Z" })
    }

    func testRigOximeter() throws {
        for (hex, (spo2, pulse)) in zip(RigPayloads.oximeterSequence, RigPayloads.oximeterValues) {
            let built = try observations("ble-pulse-oximeter", .plxContinuousMeasurement, hex, device: "F0:00:00:00:18:22")
            XCTAssertEqual(built.count, 2)
            let saturation = try XCTUnwrap(find(built, loinc: "59408-5", mdc: "150456"))
            XCTAssertTrue((saturation["code"]?["coding"]?.arrayValue ?? []).contains { $0["code"] == "2708-6" }, "Vital Signs oxygen saturation code")
            assertQuantity(saturation["valueQuantity"], Double(spo2), "%")
            assertQuantity(find(built, loinc: "8867-4", mdc: "149530")?["valueQuantity"], Double(pulse), "/min")
        }
    }

    func testRigBTHomeSensor() throws {
        let advert = try XCTUnwrap(VectorComparison.bytes(hex: RigPayloads.adverts[5].advertising))
        let serviceData = try XCTUnwrap(try AdvertisingData.parse(advert).serviceData(for: BluetoothUUID(uuid16: BTHomeDecoder.serviceUUID)))
        let message = try BTHomeDecoder.decode(serviceData: serviceData).message(deviceID: "F0:00:00:00:FC:D2", receivedAt: received, patientID: "patient-ble-01")
        let mapped = try Profile("ble-bthome").map([message])
        let built = mapped["observations"]?.arrayValue ?? []
        XCTAssertEqual(built.count, 1)
        XCTAssertEqual(built.first?["code"]?["coding"]?[0]?["code"], "60832-3")
        assertQuantity(built.first?["valueQuantity"], 21.5, "Cel")
    }

    /// The sample the meter names is the one coded: venous plasma is a plasma glucose (2345-7,
    /// MDC_CONC_GLU_VENOUS_PLASMA), never capillary blood by glucometer.
    func testGlucoseIsCodedForTheSampleTheMeterNames() throws {
        let cases: [(hex: String, loinc: String, mdc: String)] = [
            ("020100e80705010f2d005fb011", "41653-7", "160184"), // capillary whole blood, finger
            ("020100e80705010f2d005fb0f4", "2345-7", "160196"), // venous plasma
            ("020100e80705010f2d005fb0f3", "2339-0", "160192"), // venous whole blood
            ("020100e80705010f2d005fb0f8", "2345-7", "160368"), // undetermined plasma
        ]
        for (hex, loinc, mdc) in cases {
            let built = try observations("ble-glucose", .glucoseMeasurement, hex, device: "meter")
            XCTAssertEqual(built.count, 1, hex)
            assertQuantity(find(built, loinc: loinc, mdc: mdc)?["valueQuantity"], 95, "mg/dL")
        }
        let venous = try observations("ble-glucose", .glucoseMeasurement, "020100e80705010f2d005fb0f4", device: "meter")
        XCTAssertNil(find(venous, loinc: "41653-7", mdc: "160184"), "not capillary blood")
        // Interstitial fluid (a CGM sample) has no mapping yet: no Observation rather than a wrong code.
        XCTAssertEqual(try observations("ble-glucose", .glucoseMeasurement, "020100e80705010f2d005fb0f9", device: "meter").count, 0)
    }

    func testControlSolutionMakesNoObservationAndSpecialValuesAreDataAbsent() throws {
        // Glucose control-solution sample (type 10): no Observation.
        XCTAssertEqual(try observations("ble-glucose", .glucoseMeasurement, "020100e80705010f2d005fb04a", device: "meter").count, 0)
        // Thermometer NaN: a body temperature whose value is absent, and why.
        let nan = try observations("ble-thermometer", .temperatureMeasurement, "00ffff7f00", device: "thermo")
        XCTAssertEqual(nan.count, 1)
        let temperature = try XCTUnwrap(find(nan, loinc: "8310-5", mdc: "150364"))
        XCTAssertNil(temperature["valueQuantity"])
        XCTAssertEqual(temperature["dataAbsentReason"]?["coding"]?.arrayValue?.first?["code"], "not-a-number")
        XCTAssertEqual(temperature["dataAbsentReason"]?["text"], "NaN")
        // +INF (SFLOAT 0x07FE) and NRes (0x0800) of a glucose concentration.
        for (hex, reason) in [("020100e80705010f2d00fe0711", "positive-infinity"), ("020100e80705010f2d00000811", "error")] {
            let glucose = try observations("ble-glucose", .glucoseMeasurement, hex, device: "meter")
            XCTAssertEqual(glucose.count, 1, hex)
            XCTAssertEqual(glucose.first?["dataAbsentReason"]?["coding"]?.arrayValue?.first?["code"]?.stringValue, reason, hex)
            XCTAssertNil(glucose.first?["valueQuantity"], hex)
        }
        let glucose = try observations("ble-glucose", .glucoseMeasurement, "020100e80705010f2d005fb011", device: "meter")
        assertQuantity(find(glucose, loinc: "41653-7", mdc: "160184")?["valueQuantity"], 95, "mg/dL")
    }
}
