import MQTT
import XCTest

final class TopicFilterTests: XCTestCase {
    private func filter(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> MQTTTopicFilter {
        guard let filter = MQTTTopicFilter(text) else {
            XCTFail("\(text) should be a valid filter: \(MQTTTopicFilter.problem(text) ?? "")", file: file, line: line)
            return MQTTTopicFilter("never/used")!
        }
        return filter
    }

    func testExactFilterMatchesOnlyItsTopic() {
        let exact = filter("clinic/room-1/vitals")
        XCTAssertTrue(exact.matches("clinic/room-1/vitals"))
        XCTAssertFalse(exact.matches("clinic/room-1/vitals/extra"))
        XCTAssertFalse(exact.matches("clinic/room-1"))
        XCTAssertFalse(exact.matches("Clinic/room-1/vitals"), "topics are case-sensitive")
    }

    func testPlusMatchesExactlyOneLevelIncludingAnEmptyOne() {
        let plus = filter("clinic/+/vitals")
        XCTAssertTrue(plus.matches("clinic/room-1/vitals"))
        XCTAssertTrue(plus.matches("clinic//vitals"))
        XCTAssertFalse(plus.matches("clinic/a/b/vitals"))
        XCTAssertFalse(plus.matches("clinic/vitals"))
        XCTAssertTrue(filter("+").matches("alone"))
        XCTAssertFalse(filter("+").matches("two/levels"))
        XCTAssertTrue(filter("+/+").matches("/finance"), "a leading / makes an empty first level")
    }

    func testHashMatchesTheParentAndEveryLevelBelow() {
        let hash = filter("fhir-edge/demo-vitals/#")
        XCTAssertTrue(hash.matches("fhir-edge/demo-vitals"))
        XCTAssertTrue(hash.matches("fhir-edge/demo-vitals/monitor-1"))
        XCTAssertTrue(hash.matches("fhir-edge/demo-vitals/ward/3/monitor-1"))
        XCTAssertFalse(hash.matches("fhir-edge/demo-vitalsX"))
        XCTAssertFalse(hash.matches("fhir-edge/other/monitor-1"))
        XCTAssertTrue(filter("#").matches("anything/at/all"))
        XCTAssertTrue(filter("fhir-edge/+/#").matches("fhir-edge/demo-vitals/monitor-1"))
        XCTAssertFalse(filter("fhir-edge/+/#").matches("fhir-edge"))
    }

    func testWildcardsDoNotMatchBrokerTopics() {
        XCTAssertFalse(filter("#").matches("$SYS/broker/uptime"))
        XCTAssertFalse(filter("+/broker/uptime").matches("$SYS/broker/uptime"))
        XCTAssertTrue(filter("$SYS/#").matches("$SYS/broker/uptime"))
    }

    func testInvalidFiltersAreRefusedWithAReason() {
        for bad in ["", "clinic/#/vitals", "clinic/room#", "clinic/+x/vitals", "a+/b", "with\u{0}nul"] {
            XCTAssertNil(MQTTTopicFilter(bad), bad)
            XCTAssertNotNil(MQTTTopicFilter.problem(bad), bad)
        }
        XCTAssertNil(MQTTTopicFilter.problem("a/+/#"))
    }

    func testLevelsAndWildcardPositions() {
        XCTAssertEqual(MQTTTopicFilter.level(2, of: "fhir-edge/demo-vitals/monitor-1"), "demo-vitals")
        XCTAssertNil(MQTTTopicFilter.level(4, of: "fhir-edge/demo-vitals/monitor-1"))
        XCTAssertNil(MQTTTopicFilter.level(0, of: "fhir-edge"))
        XCTAssertEqual(filter("fhir-edge/+/+/#").singleLevelWildcards, [2, 3])
    }
}
