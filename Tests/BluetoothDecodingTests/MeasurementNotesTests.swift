import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

/// Status fields of a reading become notes a clinician reads; a clean reading has none.
final class MeasurementNotesTests: XCTestCase {
    let received = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 8, minute: 15, second: 0))

    private func decode(_ characteristic: HealthCharacteristic, _ hex: String) throws -> HealthReading {
        try HealthDecoder.decode(characteristic, try XCTUnwrap(VectorComparison.bytes(hex: hex)))
    }

    func testBloodPressureMeasurementStatus() throws {
        // Flags 0x10 (status present), 120/80/93 mm[Hg], status 0x000D: body movement, irregular
        // pulse, pulse rate above the upper limit.
        let reading = try decode(.bloodPressureMeasurement, "1078005000 5d000d00".replacingOccurrences(of: " ", with: ""))
        XCTAssertEqual(reading.measurementNotes, [
            "Body movement detected during measurement", "Irregular pulse detected", "Pulse rate exceeds the upper limit",
        ])
        XCTAssertEqual(reading.message(deviceID: "F0-00-00-00-18-10", receivedAt: received)["notes"], [
            "Body movement detected during measurement", "Irregular pulse detected", "Pulse rate exceeds the upper limit",
        ])
        // Cuff too loose and improper position (0x0022).
        XCTAssertEqual(try decode(.bloodPressureMeasurement, "10780050005d002200").measurementNotes, ["Cuff too loose", "Improper measurement position"])
        // All clear, and no status field at all: no notes member.
        let clean = try decode(.bloodPressureMeasurement, "10780050005d000000")
        XCTAssertEqual(clean.measurementNotes, [])
        XCTAssertNil(clean.message(deviceID: "F0-00-00-00-18-10", receivedAt: received)["notes"])
        XCTAssertNil(try decode(.bloodPressureMeasurement, RigPayloads.bloodPressure).message(deviceID: "x", receivedAt: received)["notes"])
    }

    func testPulseOximeterStatus() throws {
        // Spot-check with measurement status (flags bit 1) 0x4080 (validated, questionable) and
        // device and sensor status (bit 2) 0x000020 (low perfusion).
        let reading = try decode(.plxSpotCheckMeasurement, "0662004800" + "8040" + "200000")
        XCTAssertEqual(reading.measurementNotes, ["Questionable measurement detected", "Low perfusion detected"])
        // Validated data only: nothing to note.
        XCTAssertEqual(try decode(.plxSpotCheckMeasurement, "02620048008000").measurementNotes, [])
    }
}

/// The thermometer's Temperature Type becomes the body site, coded where a code is certain.
final class BodySiteTests: XCTestCase {
    private func site(_ hex: String) throws -> JSONValue? {
        try HealthDecoder.decode(.temperatureMeasurement, try XCTUnwrap(VectorComparison.bytes(hex: hex))).bodySite
    }

    func testTemperatureTypeIsTheBodySite() throws {
        // Flags 0x04 (type present), 36.6 Cel (FLOAT 0xFF00016E), then the type.
        XCTAssertEqual(try site("046e0100ff07"), [
            "coding": [["system": "http://snomed.info/sct", "code": "34402009", "display": "Rectum structure"]], "text": "Rectum",
        ])
        XCTAssertEqual(try site("046e0100ff09")?["coding"]?.arrayValue?.first?["code"], "42859004", "tympanum")
        XCTAssertEqual(try site("046e0100ff01")?["coding"]?.arrayValue?.first?["code"], "422543003", "armpit")
        XCTAssertEqual(try site("046e0100ff05"), ["text": "Gastrointestinal tract"], "no code rather than a guessed one")
        XCTAssertNil(try site("046e0100ff02"), "body (general) names no site")
        XCTAssertNil(try site("046e0100ff0a"), "reserved")
        XCTAssertNil(try site("006e0100ff"), "no type field")
        let reading = try HealthDecoder.decode(.temperatureMeasurement, try XCTUnwrap(VectorComparison.bytes(hex: "046e0100ff06")))
        XCTAssertEqual(reading.message(deviceID: "x", receivedAt: Timestamp(millisecondsSinceEpoch: 0))["bodySite"]?["text"], "Mouth")
    }
}
