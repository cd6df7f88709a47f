import XCTest
import Foundation
import JSONQuery
import Mapping
import TestSupport

/// Seeded random mutations of device templates and messages: loading and normalizing must end
/// in a result or a typed error, never a crash or a hang. The seed is fixed so a failure
/// reproduces.
final class NormalizationFuzzTests: XCTestCase {
    private static let baseTemplates: [String] = [
        #"""
        {"templateType": "CollectionContent", "template": [
          {"templateType": "JsonPathContent", "template": {"typeName": "hr", "typeMatchExpression": "$.Body",
            "deviceIdExpression": "$.device", "timestampExpression": "$.date", "patientIdExpression": "$.patient",
            "values": [{"valueName": "hr", "valueExpression": "$.hr", "required": true}, {"valueName": "x", "valueExpression": "$.x"}]}},
          {"templateType": "CalculatedContent", "template": {"typeName": "bp", "defaultExpressionLanguage": "JmesPath",
            "typeMatchExpression": "Body.readings[?sys]", "deviceIdExpression": "Body.device",
            "timestampExpression": "fromUnixTimestamp(matchedToken.epoch)", "correlationIdExpression": {"value": "$.Body.session", "language": "JsonPath"},
            "values": [{"valueName": "sys", "valueExpression": "multiply(matchedToken.sys, `1.5`)", "required": "true"},
                       {"valueName": "tag", "valueExpression": "insertString(matchedToken.tag, 'x', `1`)"}]}},
          {"templateType": "IotJsonPathContent", "template": {"typeName": "iot", "typeMatchExpression": "$",
            "values": [{"valueName": "v", "valueExpression": "$.Body.hr"}]}}
        ]}
        """#,
    ]

    private static let baseMessages: [String] = [
        #"""
        {"Body": {"device": "d1", "date": "2019-02-01T22:46:01Z", "hr": 60, "x": [1], "session": "s",
           "readings": [{"sys": 120, "epoch": 1549061161, "tag": "ab"}, {"sys": 1.5, "epoch": -1, "tag": ""}]},
         "Properties": {"iothub-creation-time-utc": "2019-02-01T22:46:01.875Z"},
         "SystemProperties": {"iothub-connection-device-id": "dev", "iothub-enqueuedtime": "2019-02-01"}}
        """#,
    ]

    func testMutatedTemplatesAndMessagesNeverCrash() throws {
        var random = SeededRandom(seed: 0x5EED_1234)
        var templates = Self.baseTemplates
        var messages = Self.baseMessages.compactMap { try? JSONValue(parsing: $0) }
        // The conformance cases' templates and inputs, when present, widen the corpus.
        if let suite = try Conformance.directory("iomt") {
            let cases = suite.appendingPathComponent("cases")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: cases.path).sorted()) ?? [] {
                let dir = cases.appendingPathComponent(name)
                if let text = try? String(contentsOf: dir.appendingPathComponent("device-template.json"), encoding: .utf8) {
                    templates.append(text)
                }
                if let data = try? Data(contentsOf: dir.appendingPathComponent("input.json")),
                   let value = try? JSONValue(parsing: data) {
                    messages.append(contentsOf: value.arrayValue ?? [value])
                }
            }
        }
        XCTAssertFalse(messages.isEmpty)

        var loaded = 0, rejected = 0, normalized = 0, failed = 0
        for round in 0..<3000 {
            let base = templates[random.below(templates.count)]
            let text: String
            if round % 3 == 0 {
                text = Self.mutateText(base, &random)
            } else if let value = try? JSONValue(parsing: base) {
                text = JSONWriter().string(Self.mutate(value, &random, depth: 0))
            } else {
                text = base
            }
            let collection: DeviceTemplateCollection
            do {
                collection = try DeviceTemplateCollection(parsing: text, source: "fuzz.json")
                loaded += 1
            } catch {
                XCTAssertFalse(error.problems.isEmpty, "a rejected template names at least one problem")
                rejected += 1
                continue
            }
            for _ in 0..<4 {
                var message = messages[random.below(messages.count)]
                if random.below(4) != 0 { message = Self.mutate(message, &random, depth: 0) }
                do {
                    _ = try collection.normalize(message)
                    normalized += 1
                } catch {
                    XCTAssertFalse(error.message.isEmpty)
                    failed += 1
                }
            }
        }
        print("fuzz: \(loaded) templates loaded, \(rejected) rejected; \(normalized) messages normalized, \(failed) failed")
        XCTAssertGreaterThan(loaded, 0)
        XCTAssertGreaterThan(rejected, 0)
    }

    func testDeeplyNestedMessagesEndInAResult() throws {
        let collection = try DeviceTemplateCollection(parsing: Self.baseTemplates[0], source: "deep.json")
        let recursive = try DeviceTemplateCollection(parsing: #"""
        {"templateType": "CollectionContent", "template": [{"templateType": "JsonPathContent", "template": {
          "typeName": "t", "typeMatchExpression": "$..[?(@hr)]", "deviceIdExpression": "$.d", "timestampExpression": "$.t"}}]}
        """#, source: "deep.json")
        for depth in [10, 200, 500] {
            let text = String(repeating: #"{"Body": {"hr": 1, "a": ["#, count: depth) + "0" + String(repeating: "]}}", count: depth)
            guard let message = try? JSONValue(parsing: text) else { continue }  // deeper than the parser allows
            XCTAssertThrowsError(try collection.normalize(message))  // no device id at any level
            XCTAssertThrowsError(try recursive.normalize(message))
        }
    }

    // MARK: Mutations

    private static let interestingStrings: [String] = [
        "", " ", "$", "$..*", "$..[?(@x)]", "@", "[*]", "a.b", "to_array(@)[?x]", "$.Body[0]", "$['a']",
        "fromUnixTimestamp(`1`)", "JmesPath", "JsonPath", "true", "2019-02-01T22:46:01Z", "CalculatedContent",
        "IotCentralJsonPathContent", "JsonPathContent", "matchedToken", "é\u{0}\u{FFFF}", "((((((", "`{}`",
    ]

    private static func randomScalar(_ random: inout SeededRandom) -> JSONValue {
        switch random.below(7) {
        case 0: .null
        case 1: .bool(random.below(2) == 0)
        case 2: .int(Int64(random.below(2000)) - 1000)
        case 3: .int(Int64.max - Int64(random.below(2)))
        case 4: .double(Double(random.below(100_000)) / 7)
        case 5: .array([])
        default: .string(interestingStrings[random.below(interestingStrings.count)])
        }
    }

    /// Walks down a random path and changes one thing there.
    static func mutate(_ value: JSONValue, _ random: inout SeededRandom, depth: Int) -> JSONValue {
        let here = random.below(4) == 0 || depth > 8
        switch value {
        case .object(var object) where !object.isEmpty:
            let i = random.below(object.count)
            let key = object.keys[i]
            if here {
                switch random.below(4) {
                case 0: object[key] = nil
                case 1:
                    let value = object.values[i]
                    object[key] = nil
                    object[random.below(2) == 0 ? key.uppercased() : key + "Fake"] = value
                case 2: object[key] = randomScalar(&random)
                default: object[interestingStrings[random.below(interestingStrings.count)]] = randomScalar(&random)
                }
            } else {
                object[key] = mutate(object.values[i], &random, depth: depth + 1)
            }
            return .object(object)
        case .array(var array) where !array.isEmpty:
            let i = random.below(array.count)
            if here {
                switch random.below(3) {
                case 0: array.remove(at: i)
                case 1: array.append(array[i])
                default: array[i] = randomScalar(&random)
                }
            } else {
                array[i] = mutate(array[i], &random, depth: depth + 1)
            }
            return .array(array)
        default:
            return randomScalar(&random)
        }
    }

    static func mutateText(_ text: String, _ random: inout SeededRandom) -> String {
        var bytes = Array(text.utf8)
        let alphabet = Array("{}[]\":,$.@?()'` \n0aZ\\".utf8)
        for _ in 0..<(1 + random.below(3)) where !bytes.isEmpty {
            let i = random.below(bytes.count)
            switch random.below(3) {
            case 0: bytes.remove(at: i)
            case 1: bytes.insert(alphabet[random.below(alphabet.count)], at: i)
            default: bytes[i] = alphabet[random.below(alphabet.count)]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// SplitMix64: small, seeded, reproducible.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}
