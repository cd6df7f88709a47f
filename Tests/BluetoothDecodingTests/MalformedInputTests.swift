import BluetoothDecoding
import EdgeCore
import XCTest

/// Truncated and mutated bytes give a `DecodeError` (or a reading), never a crash; seeded, so a
/// failure reproduces.
final class MalformedInputTests: XCTestCase {
    /// A valid value per characteristic with every optional field present.
    let seeds: [(HealthCharacteristic, String)] = [
        (.heartRateMeasurement, "192c01e8030004"),
        (.bloodPressureMeasurement, "1e780050005d00e807030f081e004800010500"),
        (.intermediateCuffPressure, "1e8c00ff07ff07e807030f081e004800010500"),
        (.temperatureMeasurement, "066d0100ffe807011f173b3b06"),
        (.intermediateTemperature, "066d0100ffe807011f173b3b06"),
        (.weightMeasurement, "0eb036e807011f173b3b03e500d606"),
        (.bodyCompositionMeasurement, "ff1fea00e807011f173b3b03581b9201d417d417d417d4170314b036d606"),
        (.plxSpotCheckMeasurement, "1f62004800e807011f173b3b800020000019f0"),
        (.plxContinuousMeasurement, "1f610041006200420060004000800020000019f0"),
        (.glucoseMeasurement, "1b0100e80705010f2d00c4ff5fb0110100"),
    ]

    func testEveryStrictPrefixOfAFullValueIsATruncationError() throws {
        var checked = 0
        for (characteristic, hex) in seeds {
            let bytes = try XCTUnwrap(VectorComparison.bytes(hex: hex))
            XCTAssertNoThrow(try HealthDecoder.decode(characteristic, bytes), characteristic.name)
            // Heart rate's RR list is open-ended: cutting inside it still leaves a valid value.
            let floor = characteristic == .heartRateMeasurement ? 5 : bytes.count
            for length in 0..<floor {
                XCTAssertThrowsError(try HealthDecoder.decode(characteristic, Array(bytes.prefix(length))), "\(characteristic.name) \(length) bytes") { error in
                    guard let error = error as? DecodeError else { return XCTFail("\(error)") }
                    XCTAssertEqual(error.reason, .truncated)
                    XCTAssertLessThanOrEqual(error.offset, length)
                    XCTAssertNotNil(error.field)
                    XCTAssertTrue(error.subject.contains(characteristic.name))
                }
                checked += 1
            }
        }
        print("BLE truncation: \(checked) prefixes rejected with a named field")
    }

    func testRandomMutationsNeverCrash() throws {
        var random = SplitMix64(seed: 0xB1E_DEC0)
        var decoded = 0
        var rejected = 0
        for round in 0..<20_000 {
            let (characteristic, hex) = seeds[round % seeds.count]
            var bytes = try XCTUnwrap(VectorComparison.bytes(hex: hex))
            switch random.next() % 4 {
            case 0:
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            case 1:
                bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
                if !bytes.isEmpty { bytes[0] = UInt8(truncatingIfNeeded: random.next()) }
            case 2:
                bytes = (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default:
                bytes += (0..<Int(random.next() % 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                bytes[0] = UInt8(truncatingIfNeeded: random.next())
            }
            do {
                let reading = try HealthDecoder.decode(characteristic, bytes)
                _ = reading.message(deviceID: "fuzz", receivedAt: Timestamp(millisecondsSinceEpoch: 0))
                decoded += 1
            } catch {
                XCTAssertLessThanOrEqual(error.offset, bytes.count)
                rejected += 1
            }
        }
        XCTAssertGreaterThan(decoded, 1000)
        XCTAssertGreaterThan(rejected, 1000)
        print("BLE mutations: \(decoded) decoded, \(rejected) rejected, none crashed")
    }

    func testRandomAdvertsAndBTHomeNeverCrash() {
        var random = SplitMix64(seed: 0xAD5)
        let key: [UInt8] = Array(repeating: 7, count: 16)
        let address: [UInt8] = [1, 2, 3, 4, 5, 6]
        var parsed = 0
        for round in 0..<20_000 {
            var bytes = (0..<Int(random.next() % 32)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if round % 2 == 0, !bytes.isEmpty { bytes[0] = 0x40 | (bytes[0] & 0x05) }
            if (try? AdvertisingData.parse(bytes)) != nil { parsed += 1 }
            if let advert = try? BTHomeDecoder.decode(serviceData: bytes, bindKey: key, address: address) {
                _ = advert.message(deviceID: "fuzz", receivedAt: Timestamp(millisecondsSinceEpoch: 0))
            }
        }
        XCTAssertGreaterThan(parsed, 0)
    }
}
