import FHIRModel
import JSONQuery
import XCTest

final class FHIRModelTests: XCTestCase {
    func testDecimalKeepsTextAndWritesANumber() throws {
        let d = try XCTUnwrap(FHIRDecimal("98.43639286275842"))
        XCTAssertEqual(JSONWriter().string(Quantity(value: d, unit: "kg").json), #"{"value":98.43639286275842,"unit":"kg"}"#)
        XCTAssertEqual(FHIRDecimal("120")?.json, .int(120))
        XCTAssertEqual(JSONWriter().string(FHIRDecimal("72.5")!.json), "72.5")
        XCTAssertEqual(JSONWriter().string(FHIRDecimal(-0.001)!.json), "-0.001")
        XCTAssertNil(FHIRDecimal("1,000"))
        XCTAssertNil(FHIRDecimal("12a"))
        XCTAssertNil(FHIRDecimal(".5"))
        XCTAssertNil(FHIRDecimal(Double.nan))
    }

    func testEmptyElementsAreOmitted() {
        let concept = CodeableConcept(coding: [Coding(system: "", code: nil)], text: "")
        XCTAssertEqual(concept.json, .object(JSONObject()))
        let observation = Observation(status: .final, code: CodeableConcept(text: "hr"))
        XCTAssertEqual(observation.json, ["resourceType": "Observation", "status": "final", "code": ["text": "hr"]])
    }

    func testObservationRoundTripKeepsUnknownElements() throws {
        let text = """
            {"resourceType":"Observation","id":"abc","meta":{"versionId":"3"},
             "identifier":[{"system":"s","value":"v"}],"status":"final",
             "category":[{"text":"vital"}],
             "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"hr"},
             "subject":{"reference":"Patient/p"},"effectivePeriod":{"start":"2019-02-01T22:00:00.0000000Z","end":"2019-02-01T22:59:59.9999999Z"},
             "issued":"2019-02-01T23:00:00.000Z",
             "valueSampledData":{"origin":{"value":0,"unit":"count/min"},"period":1000,"dimensions":1,"data":"E 60 E"},
             "device":{"reference":"Device/d"},
             "note":[{"text":"kept"}],
             "component":[{"code":{"text":"x"},"valueBoolean":true}]}
            """
        let json = try JSONValue(parsing: text)
        let observation = try Observation(json: json)
        XCTAssertEqual(observation.id, "abc")
        XCTAssertEqual(observation.status, .final)
        XCTAssertEqual(observation.otherElements["note"], [["text": "kept"]])
        guard case .sampledData(let data)? = observation.value else { return XCTFail("value") }
        XCTAssertEqual(data.data, "E 60 E")
        XCTAssertEqual(observation.component.first?.value, .other(elementName: "valueBoolean", true))
        XCTAssertEqual(observation.json, json)
        XCTAssertEqual(try Observation(json: observation.json), observation)
    }

    func testDecodingErrorsNameThePath() {
        let bad: JSONValue = ["resourceType": "Observation", "status": "final", "code": ["coding": [["system": 5]]]]
        XCTAssertThrowsError(try Observation(json: bad)) { error in
            XCTAssertEqual((error as? FHIRDecodingError)?.path, "Observation.code.coding[0].system")
        }
        XCTAssertThrowsError(try Observation(json: ["resourceType": "Patient", "status": "final", "code": [:]]))
        XCTAssertThrowsError(try Observation(json: ["status": "final"]))
        XCTAssertThrowsError(try Observation(json: ["status": "final", "code": [:], "valueString": "a", "valueQuantity": ["value": 1]]))
    }

    func testBundleAndOperationOutcome() throws {
        let response: JSONValue = [
            "resourceType": "Bundle", "type": "batch-response",
            "entry": [
                ["response": ["status": "201 Created", "location": "Observation/1/_history/1", "etag": "W/\"1\""]],
                ["response": [
                    "status": "422 Unprocessable Entity",
                    "outcome": ["resourceType": "OperationOutcome", "issue": [["severity": "error", "code": "invalid", "diagnostics": "bad", "expression": ["Observation.status"]]]],
                ]],
            ],
        ]
        let bundle = try Bundle(json: response)
        XCTAssertEqual(bundle.entry.map { $0.response?.statusCode }, [201, 422])
        let outcome = try OperationOutcome(json: try XCTUnwrap(bundle.entry[1].response?.outcome))
        XCTAssertEqual(outcome.summary, "error invalid: bad at Observation.status")
        XCTAssertEqual(bundle.json, response)

        let request = Bundle(type: "batch", entry: [
            Bundle.Entry(resource: Patient(id: "p", identifier: [Identifier(value: "x")]).json, request: .init(method: "PUT", url: "Patient/p"))
        ])
        XCTAssertEqual(JSONWriter().string(request.json),
            #"{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"p","identifier":[{"value":"x"}]},"request":{"method":"PUT","url":"Patient/p"}}]}"#)
    }

    func testDeviceAndPatient() throws {
        let device = Device(id: "d", identifier: [Identifier(system: "sys", value: "dev")], patient: Reference(reference: "Patient/p"))
        XCTAssertEqual(try Device(json: device.json), device)
        XCTAssertThrowsError(try Device(json: Patient(id: "p").json))
        XCTAssertEqual(try Patient(json: Patient(id: "p").json).id, "p")
    }

    /// The PHD IG's Device members, written in R4 element order, read back unchanged; an
    /// identifier keeps its type.
    func testDeviceDescriptionMembersRoundTripInElementOrder() throws {
        let mdc = "urn:iso:std:iso:11073:10101"
        let device = Device(
            id: "d",
            identifier: [Identifier(
                type: CodeableConcept(coding: [Coding(system: "http://terminology.hl7.org/CodeSystem/ContinuaDeviceIdentifiers", code: "BTMAC")]),
                system: "http://hl7.org/fhir/sid/eui-48/bluetooth", value: "F0-00-00-00-18-10")],
            manufacturer: "BLE Rig", serialNumber: "BP-0001", deviceName: [Device.DeviceName(name: "Rig BP Cuff", type: "user-friendly-name")],
            modelNumber: "RIG-BP", type: CodeableConcept(coding: [Coding(system: mdc, code: "65573")]),
            version: [Device.Version(type: CodeableConcept(coding: [Coding(system: mdc, code: "531976")]), value: "1.0.0")],
            patient: Reference(reference: "Patient/p"), otherElements: ["status": "active"])
        let json = device.json
        XCTAssertEqual(json.objectValue?.keys, [
            "resourceType", "id", "identifier", "manufacturer", "serialNumber", "deviceName", "modelNumber", "type", "version", "patient", "status",
        ])
        XCTAssertEqual(json["identifier"]?.arrayValue?.first?.objectValue?.keys, ["type", "system", "value"])
        XCTAssertEqual(try Device(json: json), device)
        XCTAssertThrowsError(try Device(json: ["resourceType": "Device", "version": [["type": ["text": "fw"]]]])) { error in
            XCTAssertTrue("\(error)".contains("version"), "\(error)")
        }
    }
}
