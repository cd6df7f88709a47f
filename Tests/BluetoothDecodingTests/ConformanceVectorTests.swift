import BluetoothDecoding
import Foundation
import JSONQuery
import TestSupport
import XCTest

/// Every vector of ../shared/conformance/ble, run as published: one test per file family, no
/// known failures.
final class ConformanceVectorTests: XCTestCase {
    private func suite(_ file: String) throws -> [JSONValue]? {
        guard let directory = try Conformance.directory("ble") else { return nil }
        let document = try JSONValue(parsing: try Data(contentsOf: directory.appendingPathComponent(file)))
        return try XCTUnwrap(document["cases"]?.arrayValue, "\(file) has cases")
    }

    /// Runs each case through `decode` and compares with `expected`; returns the number that passed.
    private func run(_ file: String, decode: (JSONValue, [UInt8]) throws -> JSONValue) throws -> Int? {
        guard let cases = try suite(file) else { return nil }
        var passed = 0
        for testCase in cases {
            let id = testCase["id"]?.stringValue ?? "?"
            let bytes = try XCTUnwrap(VectorComparison.bytes(hex: testCase["hex"]?.stringValue ?? ""), "\(id): hex")
            let expected = try XCTUnwrap(testCase["expected"], id)
            let got: JSONValue
            do {
                got = try decode(testCase, bytes)
            } catch let error as DecodeError {
                XCTAssertNotNil(expected["error"], "\(file) \(id): rejected with \(error)")
                XCTAssertFalse(error.description.isEmpty)
                if expected["error"] != nil { passed += 1 }
                continue
            }
            if expected["error"] != nil {
                XCTFail("\(file) \(id): accepted a payload that must be rejected: \(got)")
                continue
            }
            let differences = VectorComparison.differences(got, expected)
            XCTAssertEqual(differences, [], "\(file) \(id)")
            if differences.isEmpty { passed += 1 }
        }
        XCTAssertEqual(passed, cases.count, "\(file): every case passes")
        print("BLE conformance \(file): \(passed)/\(cases.count) passed")
        return passed
    }

    func testIEEE11073Numbers() throws {
        _ = try run("ieee11073-sfloat.json") { _, bytes in
            guard bytes.count == 2 else { throw DecodeError(subject: "SFLOAT", field: nil, offset: 0, reason: .truncated, detail: "") }
            return ["value": VectorComparison.number(IEEE11073.sfloat(UInt16(bytes[0]) | UInt16(bytes[1]) << 8))]
        }
        _ = try run("ieee11073-float.json") { _, bytes in
            guard bytes.count == 4 else { throw DecodeError(subject: "FLOAT", field: nil, offset: 0, reason: .truncated, detail: "") }
            let raw = bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            return ["value": VectorComparison.number(IEEE11073.float(raw))]
        }
    }

    func testHealthCharacteristics() throws {
        let files = [
            "heart-rate-measurement.json", "blood-pressure-measurement.json", "intermediate-cuff-pressure.json",
            "temperature-measurement.json", "weight-measurement.json", "body-composition-measurement.json",
            "plx-spot-check-measurement.json", "plx-continuous-measurement.json", "glucose-measurement.json",
        ]
        var total = 0
        for file in files {
            guard let directory = try Conformance.directory("ble") else { return }
            let document = try JSONValue(parsing: try Data(contentsOf: directory.appendingPathComponent(file)))
            let uuidText = try XCTUnwrap(document["uuid"]?.stringValue, file)
            let uuid = try XCTUnwrap(UInt16(uuidText.dropFirst(2), radix: 16), file)
            let characteristic = try XCTUnwrap(HealthCharacteristic(uuid16: uuid), "\(file): \(uuidText) is decodable")
            total += try run(file) { _, bytes in
                VectorComparison.fields(try HealthDecoder.decode(characteristic, bytes), flags: bytes.first ?? 0)
            } ?? 0
        }
        print("BLE conformance health characteristics: \(total) passed")
    }

    func testBTHomeAdverts() throws {
        _ = try run("bthome-v2.json") { testCase, bytes in
            let arguments = testCase["decoder_args"]
            let key = arguments?["bindkey"]?.stringValue.flatMap { VectorComparison.bytes(hex: $0) }
            let address = arguments?["mac"]?.stringValue.flatMap { VectorComparison.bytes(hex: $0.replacingOccurrences(of: ":", with: "")) }
            return VectorComparison.fields(try BTHomeDecoder.decode(serviceData: bytes, bindKey: key, address: address))
        }
    }
}
