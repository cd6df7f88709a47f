import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

/// Device Information Service strings: what is kept of each read, and the message's `device` object.
final class DeviceInformationTests: XCTestCase {
    let received = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 8, minute: 15, second: 0))

    func testKeepsEachFieldAsTheDeviceWroteIt() {
        var information = DeviceInformation()
        XCTAssertTrue(information.isEmpty)
        XCTAssertTrue(information.record(uuid16: 0x2A29, value: Array("BLE Rig".utf8)))
        XCTAssertTrue(information.record(uuid16: 0x2A24, value: Array("RIG-BP".utf8)))
        XCTAssertTrue(information.record(uuid16: 0x2A25, value: Array("bp-0001 ".utf8)), "case and spaces are the device's")
        XCTAssertTrue(information.record(uuid16: 0x2A26, value: Array("1.0.0".utf8) + [0, 0, 0]), "NUL padding of a fixed buffer")
        XCTAssertTrue(information.record(uuid16: 0x2A27, value: Array("Rev ß".utf8)))
        XCTAssertTrue(information.record(uuid16: 0x2A28, value: [0, 0]), "all padding: nothing to keep")
        XCTAssertFalse(information.record(uuid16: 0x2A19, value: [64]), "Battery Level is not a DIS string")
        XCTAssertEqual(information[DeviceInformation.manufacturerName], "BLE Rig")
        XCTAssertEqual(information[DeviceInformation.serialNumber], "bp-0001 ")
        XCTAssertEqual(information[DeviceInformation.firmwareRevision], "1.0.0")
        XCTAssertEqual(information[DeviceInformation.hardwareRevision], "Rev ß")
        XCTAssertNil(information[DeviceInformation.softwareRevision])
        XCTAssertEqual(information.json, [
            "manufacturerName": "BLE Rig", "modelNumber": "RIG-BP", "serialNumber": "bp-0001 ", "hardwareRevision": "Rev ß",
            "firmwareRevision": "1.0.0",
        ])
    }

    func testBytesThatAreNotUTF8AreLeftOut() {
        var information = DeviceInformation()
        information.record(uuid16: 0x2A25, value: [0xFF, 0xFE, 0x41])
        XCTAssertNil(information[DeviceInformation.serialNumber])
        XCTAssertTrue(information.isEmpty)
    }

    func testTheMessageCarriesTheDeviceObjectOnlyWhenThereIsOne() throws {
        let reading = try HealthDecoder.decode(.bloodPressureMeasurement, try XCTUnwrap(VectorComparison.bytes(hex: RigPayloads.bloodPressure)))
        var information = DeviceInformation()
        information.record(uuid16: 0x2A29, value: Array("BLE Rig".utf8))
        information.record(uuid16: 0x2A24, value: Array("RIG-BP".utf8))
        let message = reading.message(deviceID: "F0-00-00-00-18-10", receivedAt: received, patientID: "p1", device: information)
        XCTAssertEqual(message["device"], ["manufacturerName": "BLE Rig", "modelNumber": "RIG-BP"])
        XCTAssertEqual(message["deviceId"], "F0-00-00-00-18-10")
        XCTAssertNil(reading.message(deviceID: "F0-00-00-00-18-10", receivedAt: received)["device"])
        XCTAssertNil(reading.message(deviceID: "F0-00-00-00-18-10", receivedAt: received, device: DeviceInformation())["device"])
    }
}
