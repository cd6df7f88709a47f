import JSONQuery
import XCTest

/// Prints evaluation speed on a typical device message. Measured, never asserted: timings
/// depend on the machine and build configuration.
final class JMESPathPerformanceTests: XCTestCase {
    func testEvaluationTiming() throws {
        let message = try JSONValue(parsing: """
            {"Body": [
                {"heartRate": 78, "endDate": "2019-02-01T22:46:01.8750000Z", "deviceId": "device123"},
                {"steps": 1200, "endDate": "2019-02-01T22:46:01.8750000Z", "deviceId": "device123"},
                {"heartRate": 81, "endDate": "2019-02-01T22:47:01.8750000Z", "deviceId": "device123"}
             ],
             "Properties": {"iothub-creation-time-utc": "2019-02-01T22:46:01.8750000Z"},
             "SystemProperties": {"iothub-connection-device-id": "device123"}}
            """)
        let cases: [(String, JSONValue)] = [
            ("Body[?heartRate].heartRate | [0]", 78),
            ("Body[0].deviceId", "device123"),
            ("max(Body[*].heartRate)", 81),
        ]
        let iterations = 100_000
        for (source, expected) in cases {
            let expression = try JMESPathExpression(source, functions: .medTech)
            XCTAssertEqual(try expression.evaluate(message), expected)
            var checksum = 0
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                for _ in 0..<iterations {
                    if case .int(let n) = try expression.evaluate(message) { checksum &+= Int(n) }
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let nanosecondsPerEvaluation = seconds * 1e9 / Double(iterations)
            print("JMESPath timing: \(source): \(Int(nanosecondsPerEvaluation)) ns/evaluation, \(Int(Double(iterations) / seconds)) evaluations/s (checksum \(checksum))")
        }
    }

    func testCompileTiming() throws {
        let source = "Body[?heartRate && deviceId == 'device123'].{hr: heartRate, at: endDate} | [0]"
        let iterations = 10_000
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<iterations { _ = try JMESPathExpression(source) }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("JMESPath timing: compile \(source): \(Int(seconds * 1e6 / Double(iterations))) µs/compile")
    }
}
