import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

/// The rig's exact payloads decode to the values its scenario states, and become the device
/// messages the ble-* profiles read.
final class RigPayloadTests: XCTestCase {
    let received = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 8, minute: 15, second: 0, millisecond: 250))

    private func decode(_ characteristic: HealthCharacteristic, _ hex: String) throws -> HealthReading {
        try HealthDecoder.decode(characteristic, try XCTUnwrap(VectorComparison.bytes(hex: hex)))
    }

    func testHeartRateSequence() throws {
        for (hex, bpm) in zip(RigPayloads.heartRateSequence, RigPayloads.heartRateBPM) {
            let reading = try decode(.heartRateMeasurement, hex)
            XCTAssertEqual(reading.value(named: "heartRate"), MeasuredValue(name: "heartRate", value: .finite(mantissa: Int64(bpm), exponent: 0), unit: "/min"))
            XCTAssertEqual(reading.details["sensorContact"], "detected")
            let rr = try XCTUnwrap(reading.details["rrIntervals"]?.arrayValue?.first?.doubleValue)
            XCTAssertEqual(rr, (60.0 / Double(bpm) * 1024).rounded() / 1024, accuracy: 1e-12)
            XCTAssertNil(reading.deviceTime)
        }
        let message = try decode(.heartRateMeasurement, RigPayloads.heartRateSequence[0]).message(deviceID: "F0:00:00:00:18:0D", receivedAt: received)
        XCTAssertEqual(message["deviceId"], "F0:00:00:00:18:0D")
        XCTAssertEqual(message["characteristic"], "heartRateMeasurement")
        XCTAssertEqual(message["uuid"], "2A37")
        XCTAssertEqual(message["time"], "2026-11-27T08:15:00.250Z")
        XCTAssertEqual(message["timeSource"], "receiver")
        XCTAssertEqual(message["values"], ["heartRate": 72])
        XCTAssertEqual(message["units"], ["heartRate": "/min"])
        XCTAssertNil(message["deviceTime"])
    }

    func testBloodPressureCarriesTheCuffsTimestamp() throws {
        let reading = try decode(.bloodPressureMeasurement, RigPayloads.bloodPressure)
        XCTAssertEqual(reading.deviceTime?.description, "2024-01-15T08:30:00")
        let message = reading.message(deviceID: "F0:00:00:00:18:10", receivedAt: received)
        XCTAssertEqual(message["time"], "2024-01-15T08:30:00.000Z")
        XCTAssertEqual(message["timeSource"], "device")
        XCTAssertEqual(message["deviceTime"], "2024-01-15T08:30:00")
        XCTAssertEqual(message["receivedAt"], "2026-11-27T08:15:00.250Z")
        XCTAssertEqual(message["values"], ["systolic": 120, "diastolic": 80, "meanArterialPressure": 93, "pulseRate": 72])
        XCTAssertEqual(message["units"]?["systolic"], "mm[Hg]")
        XCTAssertEqual(message["units"]?["pulseRate"], "/min")
    }

    func testThermometerScaleAndOximeter() throws {
        let temperature = try decode(.temperatureMeasurement, RigPayloads.thermometer).message(deviceID: "t", receivedAt: received)
        XCTAssertEqual(temperature["values"], ["temperature": 36.6])
        XCTAssertEqual(temperature["units"], ["temperature": "Cel"])
        XCTAssertEqual(temperature["time"], "2024-01-15T08:31:00.000Z")

        let weight = try decode(.weightMeasurement, RigPayloads.weightScale).message(deviceID: "s", receivedAt: received)
        XCTAssertEqual(weight["values"], ["weight": 72.4, "bmi": 23.6, "height": 175])
        XCTAssertEqual(weight["units"], ["weight": "kg", "bmi": "kg/m2", "height": "cm"])
        XCTAssertEqual(weight["time"], "2024-01-15T07:00:00.000Z")

        for (hex, (spo2, pulse)) in zip(RigPayloads.oximeterSequence, RigPayloads.oximeterValues) {
            let message = try decode(.plxContinuousMeasurement, hex).message(deviceID: "o", receivedAt: received)
            XCTAssertEqual(message["values"], ["spo2": .int(Int64(spo2)), "pulseRate": .int(Int64(pulse))])
            XCTAssertEqual(message["units"], ["spo2": "%", "pulseRate": "/min"])
            XCTAssertEqual(message["timeSource"], "receiver")
        }
    }

    func testAdvertsOfEveryRigDevice() throws {
        let response = try AdvertisingData.parse(try XCTUnwrap(VectorComparison.bytes(hex: RigPayloads.scanResponse)))
        XCTAssertEqual(response.txPower, 0)
        for advert in RigPayloads.adverts {
            let data = try AdvertisingData.parse(try XCTUnwrap(VectorComparison.bytes(hex: advert.advertising))).merging(response)
            XCTAssertEqual(data.flags, 0x06, advert.id)
            XCTAssertEqual(data.localName, advert.name, advert.id)
            XCTAssertTrue(data.localNameIsComplete, advert.id)
            XCTAssertEqual(data.appearance, advert.appearance, advert.id)
            XCTAssertEqual(data.txPower, 0, advert.id)
            XCTAssertEqual(data.serviceUUIDs.compactMap(\.uuid16), advert.service.map { [$0] } ?? [], advert.id)
            if let service = advert.service {
                XCTAssertTrue(HealthCharacteristic.services.contains(service), advert.id)
            }
        }
    }

    func testBTHomeAdvertBecomesAMessage() throws {
        let bytes = try XCTUnwrap(VectorComparison.bytes(hex: RigPayloads.adverts[5].advertising))
        let data = try AdvertisingData.parse(bytes)
        let serviceData = try XCTUnwrap(data.serviceData(for: BluetoothUUID(uuid16: BTHomeDecoder.serviceUUID)))
        let advert = try BTHomeDecoder.decode(serviceData: serviceData)
        XCTAssertFalse(advert.encrypted)
        XCTAssertEqual(advert.measurements.map(\.name), ["packet_id", "battery", "temperature", "humidity"])
        let message = advert.message(deviceID: "F0:00:00:00:FC:D2", receivedAt: received)
        XCTAssertEqual(message["format"], "bthome-v2")
        XCTAssertEqual(message["values"], ["packet_id": 1, "battery": 97, "temperature": 21.5, "humidity": 45.0])
        XCTAssertEqual(message["units"], ["battery": "%", "temperature": "Cel", "humidity": "%"])
        XCTAssertEqual(message["time"], "2026-11-27T08:15:00.250Z")
        XCTAssertEqual(message["timeSource"], "receiver")
        XCTAssertNil(message["binarySensors"])
    }
}
