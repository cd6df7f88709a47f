import BluetoothDecoding
import EdgeCore
import JSONQuery
import XCTest

/// The Current Time characteristic (Exact Time 256 + Adjust Reason), the device clock's check
/// against the gateway's, and what a device-timed reading's message says about it.
final class CurrentTimeTests: XCTestCase {
    /// 2026-11-27 08:15:30 (a Friday), 128/256 s, adjusted from an external reference, with the
    /// reserved high bits of Adjust Reason set.
    static let friday: [UInt8] = [0xEA, 0x07, 11, 27, 8, 15, 30, 5, 128, 0xF2]
    let gateway = Timestamp(.init(year: 2026, month: 11, day: 27, hour: 10, minute: 15, second: 30))

    func testDecodesExactTime256AndAdjustReason() throws {
        let current = try CurrentTime.decode(Self.friday)
        XCTAssertEqual(current.dateTime, DeviceDateTime(year: 2026, month: 11, day: 27, hour: 8, minute: 15, second: 30))
        XCTAssertEqual(current.dayOfWeek, 5)
        XCTAssertEqual(current.fractions256, 128)
        XCTAssertEqual(current.adjustReason, [.externalReferenceTimeUpdate], "reserved bits dropped")
        XCTAssertEqual(current.timestamp?.iso8601, "2026-11-27T08:15:30.500Z", "128/256 s is 500 ms; zone-less is UTC")
    }

    func testBytesAfterTheValueAreIgnored() throws {
        XCTAssertEqual(try CurrentTime.decode(Self.friday + [0xAA]), try CurrentTime.decode(Self.friday))
    }

    func testAClockThatIsNotSetHasNoTime() throws {
        let unset = try CurrentTime.decode([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertNil(unset.dateTime)
        XCTAssertNil(unset.dayOfWeek)
        XCTAssertNil(unset.timestamp)
        XCTAssertNil(DeviceClock(current: unset, checkedAt: gateway, toleranceSeconds: 60), "nothing to compare")
    }

    func testATruncatedValueNamesTheFieldItEndsIn() {
        for (count, field, offset) in [(0, "Date Time", 0), (6, "Date Time", 0), (7, "Day of Week", 7), (8, "Fractions256", 8), (9, "Adjust Reason", 9)] {
            XCTAssertThrowsError(try CurrentTime.decode(Array(Self.friday.prefix(count)))) { error in
                let error = error as? DecodeError
                XCTAssertEqual(error?.reason, .truncated, "\(count) bytes")
                XCTAssertEqual(error?.field, field, "\(count) bytes")
                XCTAssertEqual(error?.offset, offset, "\(count) bytes")
            }
        }
    }

    func testFieldsOutOfRangeAreReservedValues() {
        var month13 = Self.friday
        month13[2] = 13
        var hour24 = Self.friday
        hour24[4] = 24
        var day8 = Self.friday
        day8[7] = 8
        for (bytes, field) in [(month13, "Date Time"), (hour24, "Date Time"), (day8, "Day of Week")] {
            XCTAssertThrowsError(try CurrentTime.decode(bytes)) { error in
                XCTAssertEqual((error as? DecodeError)?.reason, .reservedValue)
                XCTAssertEqual((error as? DecodeError)?.field, field)
            }
        }
    }

    func testOffsetIsDeviceMinusGatewayRoundedToSeconds() throws {
        let clock = try XCTUnwrap(DeviceClock(current: CurrentTime.decode(Self.friday), checkedAt: gateway, toleranceSeconds: 60))
        XCTAssertEqual(clock.offsetSeconds, -7200, "two hours behind; 7199.5 s rounds away from zero")
        XCTAssertTrue(clock.isOff)
        XCTAssertEqual(clock.json, ["offsetSeconds": -7200, "toleranceSeconds": 60, "checkedAt": "2026-11-27T10:15:30.000Z", "status": "off"])
        let ahead = DeviceClock(current: CurrentTime(dateTime: DeviceDateTime(year: 2026, month: 11, day: 27, hour: 10, minute: 16, second: 30)),
                                checkedAt: gateway, toleranceSeconds: 60)
        XCTAssertEqual(ahead?.offsetSeconds, 60)
        XCTAssertEqual(ahead?.isOff, false, "60 s is within a 60 s tolerance")
        XCTAssertEqual(ahead?.json["status"], "synchronised")
        let beyond = DeviceClock(current: CurrentTime(dateTime: DeviceDateTime(year: 2026, month: 11, day: 27, hour: 10, minute: 16, second: 31)),
                                 checkedAt: gateway, toleranceSeconds: 60)
        XCTAssertEqual(beyond?.isOff, true, "61 s is not")
    }

    func testAnOffClockCorrectsTheMessageTimeAndKeepsTheDevicesOwn() throws {
        let reading = HealthReading(
            characteristic: .temperatureMeasurement,
            values: [MeasuredValue(name: "temperature", value: .finite(mantissa: 370, exponent: -1), unit: "Cel")],
            details: [:], deviceTime: DeviceDateTime(year: 2026, month: 11, day: 27, hour: 8, minute: 0, second: 0))
        let off = DeviceClock(offsetSeconds: -7200, checkedAt: gateway, toleranceSeconds: 60)
        let message = reading.message(deviceID: "F0-00-00-00-18-09", receivedAt: gateway, clock: off)
        XCTAssertEqual(message["time"], "2026-11-27T10:00:00.000Z", "the device time plus the two hours it is behind")
        XCTAssertEqual(message["deviceTime"], "2026-11-27T08:00:00", "as the device said it")
        XCTAssertEqual(message["timeSource"], "device")
        XCTAssertEqual(message["clock"], off.json)

        let synchronised = DeviceClock(offsetSeconds: -30, checkedAt: gateway, toleranceSeconds: 60)
        let kept = reading.message(deviceID: "F0-00-00-00-18-09", receivedAt: gateway, clock: synchronised)
        XCTAssertEqual(kept["time"], "2026-11-27T08:00:00.000Z", "within the tolerance: not corrected")
        XCTAssertEqual(kept["clock"]?["status"], "synchronised")

        XCTAssertNil(reading.message(deviceID: "F0-00-00-00-18-09", receivedAt: gateway)["clock"], "no check, no clock")
    }

    func testAReadingWithoutDeviceTimeCarriesNoClock() {
        let reading = HealthReading(
            characteristic: .heartRateMeasurement,
            values: [MeasuredValue(name: "heartRate", value: .finite(mantissa: 72, exponent: 0), unit: "/min")],
            details: [:], deviceTime: nil)
        let message = reading.message(
            deviceID: "F0-00-00-00-18-0D", receivedAt: gateway, clock: DeviceClock(offsetSeconds: -7200, checkedAt: gateway, toleranceSeconds: 60))
        XCTAssertEqual(message["time"], .string(gateway.iso8601), "the receive time needs no correction")
        XCTAssertNil(message["clock"])
    }
}
