import BluetoothDecoding
import Foundation
import JSONQuery
import TestSupport
import Testing

/// Every vector of ../shared/conformance/ble, run as published, one result per case and no known
/// failures. Without the suite the cases are empty and `suiteIsTheReviewedOne` says so (a failure
/// under `CI=true`).
@Suite struct ConformanceVectorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var id: String
        /// The characteristic's 16-bit UUID, for the health characteristic files.
        var uuid: UInt16?
        var test: JSONValue
        var testDescription: String { "\(file) \(id)" }
    }

    static let files = [
        "ieee11073-sfloat.json", "ieee11073-float.json",
        "heart-rate-measurement.json", "blood-pressure-measurement.json", "intermediate-cuff-pressure.json",
        "temperature-measurement.json", "weight-measurement.json", "body-composition-measurement.json",
        "plx-spot-check-measurement.json", "plx-continuous-measurement.json", "glucose-measurement.json",
        "bthome-v2.json",
    ]

    static let cases: [Case] = (try? loadCases()) ?? []

    static func loadCases() throws -> [Case]? {
        guard let directory = try Conformance.directory("ble") else { return nil }
        var cases: [Case] = []
        for file in files {
            let document = try JSONValue(parsing: try Data(contentsOf: directory.appendingPathComponent(file)))
            let uuid = document["uuid"]?.stringValue.flatMap { UInt16($0.dropFirst(2), radix: 16) }
            for test in document["cases"]?.arrayValue ?? [] {
                cases.append(Case(file: file, id: test["id"]?.stringValue ?? "?", uuid: uuid, test: test))
            }
        }
        return cases
    }

    /// The suite is there (under `CI=true` it must be) with the 129 vectors it was reviewed with:
    /// SFLOAT 15, FLOAT 10, health characteristics 88, BTHome 16.
    @Test func suiteIsTheReviewedOne() throws {
        guard let loaded = try Self.loadCases() else { return }
        #expect(loaded.count == 129, "the suite changed size; review these tests")
        #expect(Set(loaded.map(\.file)) == Set(Self.files), "every file has cases")
    }

    @Test(arguments: cases)
    func vector(_ testCase: Case) throws {
        let bytes = try #require(VectorComparison.bytes(hex: testCase.test["hex"]?.stringValue ?? ""), "hex")
        let expected = try #require(testCase.test["expected"])
        let got: JSONValue
        do {
            got = try Self.decode(testCase, bytes)
        } catch let error as DecodeError {
            #expect(expected["error"] != nil, "rejected with \(error)")
            #expect(!error.description.isEmpty)
            return
        }
        #expect(expected["error"] == nil, "accepted a payload that must be rejected: \(got)")
        if expected["error"] == nil {
            #expect(VectorComparison.differences(got, expected) == [])
        }
    }

    static func decode(_ testCase: Case, _ bytes: [UInt8]) throws -> JSONValue {
        switch testCase.file {
        case "ieee11073-sfloat.json":
            guard bytes.count == 2 else { throw DecodeError(subject: "SFLOAT", field: nil, offset: 0, reason: .truncated, detail: "") }
            return ["value": VectorComparison.number(IEEE11073.sfloat(UInt16(bytes[0]) | UInt16(bytes[1]) << 8))]
        case "ieee11073-float.json":
            guard bytes.count == 4 else { throw DecodeError(subject: "FLOAT", field: nil, offset: 0, reason: .truncated, detail: "") }
            let raw = bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            return ["value": VectorComparison.number(IEEE11073.float(raw))]
        case "bthome-v2.json":
            let arguments = testCase.test["decoder_args"]
            let key = arguments?["bindkey"]?.stringValue.flatMap { VectorComparison.bytes(hex: $0) }
            let address = arguments?["mac"]?.stringValue.flatMap { VectorComparison.bytes(hex: $0.replacingOccurrences(of: ":", with: "")) }
            return VectorComparison.fields(try BTHomeDecoder.decode(serviceData: bytes, bindKey: key, address: address))
        default:
            let uuid = try #require(testCase.uuid, "\(testCase.file) names its characteristic")
            let characteristic = try #require(HealthCharacteristic(uuid16: uuid), "\(testCase.file): 0x\(String(uuid, radix: 16)) is decodable")
            return VectorComparison.fields(try HealthDecoder.decode(characteristic, bytes), flags: bytes.first ?? 0)
        }
    }
}
