import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

/// Device-message rules: special values, time sources, exact unit shifts, the characteristic table.
final class MessageTests: XCTestCase {
    let received = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 8, minute: 15))

    func testSpecialValuesAreListedAsUnavailableNotAsNumbers() throws {
        let reading = try HealthDecoder.decode(.bloodPressureMeasurement, [0x00, 0x78, 0x00, 0x50, 0x00, 0xFF, 0x07])
        let message = reading.message(deviceID: "cuff", receivedAt: received)
        XCTAssertEqual(message["values"], ["systolic": 120, "diastolic": 80])
        XCTAssertEqual(message["unavailable"], ["meanArterialPressure": "NaN"])
        XCTAssertNil(message["units"]?["meanArterialPressure"])
    }

    func testUnknownDeviceClockFallsBackToReceiveTime() throws {
        let reading = try HealthDecoder.decode(.bloodPressureMeasurement, [0x02, 0x78, 0, 0x50, 0, 0x5D, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertNil(reading.deviceTime)
        let message = reading.message(deviceID: "cuff", receivedAt: received)
        XCTAssertEqual(message["timeSource"], "receiver")
        XCTAssertEqual(message["time"], "2026-11-27T08:15:00.000Z")
    }

    func testAnOximeterClockThatIsNotSetGivesWayToTheReceiveTime() throws {
        let set = try HealthDecoder.decode(.plxSpotCheckMeasurement, VectorComparison.bytes(hex: "0162004800e807011f173b3b") ?? [])
        XCTAssertEqual(set.deviceTime?.description, "2024-01-31T23:59:59")
        let unset = try HealthDecoder.decode(.plxSpotCheckMeasurement, VectorComparison.bytes(hex: "1162004800e807011f173b3b") ?? [])
        XCTAssertNil(unset.deviceTime)
        XCTAssertEqual(unset.details["deviceClockNotSet"], true)
        XCTAssertEqual(unset.message(deviceID: "o", receivedAt: received)["timeSource"], "receiver")
    }

    func testGlucoseTimeAddsTheOffsetAcrossMidnightAndShiftsUnitsExactly() throws {
        // Base time 2024-12-31 23:30:00, offset +45 min, 0.00095 kg/L.
        let bytes: [UInt8] = [0x03, 0x07, 0x00, 0xE8, 0x07, 12, 31, 23, 30, 0, 45, 0, 0x5F, 0xB0, 0x11]
        let reading = try HealthDecoder.decode(.glucoseMeasurement, bytes)
        XCTAssertEqual(reading.deviceTime?.description, "2025-01-01T00:15:00")
        XCTAssertEqual(reading.details["baseTime"], "2024-12-31T23:30:00")
        let message = reading.message(deviceID: "meter", receivedAt: received)
        XCTAssertEqual(message["values"], ["glucose": 95])
        XCTAssertEqual(message["units"], ["glucose": "mg/dL"])
        XCTAssertEqual(message["details"]?["sequenceNumber"], 7)

        let molar = try HealthDecoder.decode(.glucoseMeasurement, [0x06, 0x01, 0x00, 0xE8, 0x07, 5, 1, 15, 45, 0, 0x37, 0xC0, 0x11])
        XCTAssertEqual(molar.message(deviceID: "meter", receivedAt: received)["values"], ["glucose": 5.5])
        XCTAssertEqual(molar.value(named: "glucose")?.unit, "mmol/L")
    }

    func testImperialUnitsAreUCUMCodes() throws {
        let weight = try HealthDecoder.decode(.weightMeasurement, [0x09, 0x48, 0x3C, 0xE5, 0x00, 0xBE, 0x02])
        XCTAssertEqual(weight.values.map(\.unit), ["[lb_av]", "kg/m2", "[in_i]"])
        XCTAssertEqual(weight.message(deviceID: "s", receivedAt: received)["values"], ["weight": 154.32, "bmi": 22.9, "height": 70.2])
        let fahrenheit = try HealthDecoder.decode(.temperatureMeasurement, [0x01, 0xDA, 0x03, 0x00, 0xFF])
        XCTAssertEqual(fahrenheit.value(named: "temperature")?.unit, "[degF]")
        let kPa = try HealthDecoder.decode(.bloodPressureMeasurement, [0x01, 0xA0, 0xF0, 0x6B, 0xF0, 0x7D, 0xF0])
        XCTAssertEqual(kPa.message(deviceID: "c", receivedAt: received)["units"]?["systolic"], "kPa")
    }

    func testCharacteristicTable() {
        XCTAssertEqual(HealthCharacteristic.all.count, 10)
        XCTAssertEqual(Set(HealthCharacteristic.all.map(\.uuid16)).count, 10, "one entry per UUID")
        XCTAssertEqual(HealthCharacteristic(uuid16: 0x2A37), .heartRateMeasurement)
        XCTAssertNil(HealthCharacteristic(uuid16: 0x2A38), "Body Sensor Location is not a measurement")
        XCTAssertEqual(HealthCharacteristic.heartRateMeasurement.description, "Heart Rate Measurement (0x2A37)")
        XCTAssertEqual(HealthCharacteristic.bloodPressureMeasurement.delivery, .indicate)
        XCTAssertEqual(HealthCharacteristic.plxContinuousMeasurement.delivery, .notify)
        for characteristic in HealthCharacteristic.all {
            XCTAssertTrue(HealthCharacteristic.services.contains(characteristic.service), characteristic.name)
        }
    }

    func testErrorsNameTheCharacteristicFieldAndOffset() {
        XCTAssertThrowsError(try HealthDecoder.decode(.bloodPressureMeasurement, [0x02, 0x78, 0, 0x50, 0, 0x5D, 0, 0xE8, 0x07, 0x03])) { error in
            guard let error = error as? DecodeError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.reason, .truncated)
            XCTAssertEqual(error.field, "Time Stamp")
            XCTAssertEqual(error.offset, 7)
            XCTAssertEqual(error.description, "Blood Pressure Measurement (0x2A35): truncated (Time Stamp at byte 7): needs 7 bytes, 3 left")
        }
        XCTAssertThrowsError(try BTHomeDecoder.decode(serviceData: [0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9])) { error in
            XCTAssertEqual((error as? DecodeError)?.reason, .encrypted)
            XCTAssertTrue("\(error)".contains("bind key"), "\(error)")
        }
        XCTAssertThrowsError(try AdvertisingData.parse([0x05, 0x09, 0x41])) { error in
            XCTAssertEqual((error as? DecodeError)?.reason, .malformed)
            XCTAssertEqual((error as? DecodeError)?.offset, 0)
        }
    }

    func testAdvertisingDataForms() throws {
        // 128-bit UUID list, manufacturer data, service data by 128-bit UUID, shortened then complete name, zero padding.
        let uuid128: [UInt8] = Array(0..<16)
        var bytes: [UInt8] = [17, 0x07] + uuid128
        bytes += [5, 0xFF, 0x59, 0x00, 0xAA, 0xBB]
        bytes += [19, 0x21] + uuid128 + [0x01, 0x02]
        bytes += [3, 0x08, 0x41, 0x42, 4, 0x09, 0x41, 0x42, 0x43, 0, 0, 0]
        let data = try AdvertisingData.parse(bytes)
        let uuid = try XCTUnwrap(BluetoothUUID(littleEndian: uuid128))
        XCTAssertEqual(data.serviceUUIDs, [uuid])
        XCTAssertEqual(uuid.description, "0F0E0D0C-0B0A-0908-0706-050403020100")
        XCTAssertNil(uuid.uuid16)
        XCTAssertEqual(data.manufacturerData, [.init(companyID: 0x0059, data: [0xAA, 0xBB])])
        XCTAssertEqual(data.serviceData(for: uuid), [0x01, 0x02])
        XCTAssertEqual(data.localName, "ABC")
        XCTAssertTrue(data.localNameIsComplete)
        XCTAssertEqual(BluetoothUUID(uuid16: 0xFCD2).description, "FCD2")
        XCTAssertEqual(Array(BluetoothUUID(uuid16: 0x180D).littleEndianBytes[12..<14]), [0x0D, 0x18])
    }

    func testBTHomeEventsBinarySensorsAndTriggerFlag() throws {
        // Trigger-based, motion on, window off, button double press, dimmer right 3 steps.
        let advert = try BTHomeDecoder.decode(serviceData: [0x44, 0x21, 0x01, 0x2D, 0x00, 0x3A, 0x02, 0x3C, 0x02, 0x03])
        XCTAssertTrue(advert.triggerBased)
        XCTAssertEqual(advert.binarySensors.map { "\($0.name)=\($0.isOn)" }, ["motion=true", "window=false"])
        XCTAssertEqual(advert.events.map { "\($0.name) \($0.eventType) \($0.steps ?? -1)" }, ["button double_press -1", "dimmer rotate_right 3"])
        let message = advert.message(deviceID: "b", receivedAt: received)
        XCTAssertEqual(message["binarySensors"], ["motion": true, "window": false])
        XCTAssertEqual(message["events"], ["button": "double_press", "dimmer": "rotate_right"])
        XCTAssertEqual(message["triggerBased"], true)
    }
}
