import FHIRConventions
import FHIRModel
import JSONQuery
import Mapping
import XCTest

final class FHIRObservationMergeTests: XCTestCase {
    private let connector = ResourceIds.connectorSystem

    private func observation(
        data: String, start: String = "2019-01-01T00:00:00.0000000Z", end: String = "2019-01-01T00:00:09.0000000Z",
        category: [CodeableConcept] = [], components: [Observation.Component] = []
    ) -> Observation {
        Observation(
            id: "id", identifier: [Identifier(system: connector, value: "v")], status: .final, category: category,
            code: CodeableConcept(coding: [Coding(system: connector, code: "hr", display: "hr")], text: "hr"),
            effectivePeriod: Period(start: start, end: end), issued: "2019-01-01T01:00:00.000Z",
            value: .sampledData(SampledData(origin: Quantity(value: FHIRDecimal(0)), period: FHIRDecimal(1000), data: data)),
            component: components)
    }

    private func data(_ o: Observation?) -> String? {
        guard case .sampledData(let s)? = o?.value else { return nil }
        return s.data
    }

    func testNewReadingFillsItsSlotAndAmends() throws {
        let stored = observation(data: "1 E E E E E E E E E")
        let new = observation(data: "E 1 E E E E E E E E", start: "2019-01-01T00:00:00.000Z", end: "2019-01-01T00:00:09.000Z")
        let merged = try XCTUnwrap(try ObservationMerge.merge(existing: stored, new: new))
        XCTAssertEqual(data(merged), "1 1 E E E E E E E E")
        XCTAssertEqual(merged.status, .amended)
        XCTAssertEqual(merged.effectivePeriod, stored.effectivePeriod, "unchanged bounds keep the stored text")
        XCTAssertEqual(merged.issued, stored.issued)
    }

    func testReplayChangesNothing() throws {
        let stored = observation(data: "1 E 3 E E E E E E E")
        XCTAssertNil(try ObservationMerge.merge(existing: stored, new: observation(data: "E E 3 E E E E E E E")))
        XCTAssertNil(try ObservationMerge.merge(existing: stored, new: stored))
        // The same instants written with millisecond precision are no change either.
        XCTAssertNil(try ObservationMerge.merge(existing: stored, new: observation(
            data: "1 E E E E E E E E E", start: "2019-01-01T00:00:00.000Z", end: "2019-01-01T00:00:09.000Z")))
    }

    func testPeriodWidensAndDataRebasesOnTheStoredStart() throws {
        let stored = observation(data: "5 E", start: "2019-01-01T00:00:02.000Z", end: "2019-01-01T00:00:03.000Z")
        let new = observation(data: "7", start: "2019-01-01T00:00:00.000Z", end: "2019-01-01T00:00:00.000Z")
        let merged = try XCTUnwrap(try ObservationMerge.merge(existing: stored, new: new))
        XCTAssertEqual(merged.effectivePeriod, Period(start: "2019-01-01T00:00:00.000Z", end: "2019-01-01T00:00:03.000Z"))
        XCTAssertEqual(data(merged), "7 E 5 E")
    }

    func testCategoryIsReplacedOrRemovedAndCodeKept() throws {
        let stored = observation(data: "1", end: "2019-01-01T00:00:00.000Z", category: [CodeableConcept(text: "old")])
        var new = observation(data: "1", end: "2019-01-01T00:00:00.000Z", category: [CodeableConcept(text: "new")])
        new.code = CodeableConcept(text: "changed template code")
        let replaced = try XCTUnwrap(try ObservationMerge.merge(existing: stored, new: new))
        XCTAssertEqual(replaced.category, [CodeableConcept(text: "new")])
        XCTAssertEqual(replaced.code, stored.code)
        new.category = []
        XCTAssertEqual(try ObservationMerge.merge(existing: stored, new: new)?.category, [])
    }

    func testComponentsMergeByConnectorCodeAndNewOnesAppend() throws {
        func component(_ name: String, _ value: ObservationValue) -> Observation.Component {
            Observation.Component(code: CodeableConcept(coding: [Coding(system: connector, code: name, display: name)], text: name), value: value)
        }
        let stored = observation(data: "1", end: "2019-01-01T00:00:00.000Z", components: [component("sys", .quantity(Quantity(value: FHIRDecimal(120))))])
        let new = observation(data: "1", end: "2019-01-01T00:00:00.000Z", components: [
            component("dia", .quantity(Quantity(value: FHIRDecimal(80)))),
            component("sys", .quantity(Quantity(value: FHIRDecimal(125)))),
        ])
        let merged = try XCTUnwrap(try ObservationMerge.merge(existing: stored, new: new))
        XCTAssertEqual(merged.component.map(\.code.text), ["sys", "dia"])
        XCTAssertEqual(merged.component[0].value, .quantity(Quantity(value: FHIRDecimal(125))))
    }

    func testUnsupportedMerges() {
        var stored = observation(data: "1")
        stored.value = .quantity(Quantity(value: FHIRDecimal(1)))
        XCTAssertThrowsError(try ObservationMerge.merge(existing: stored, new: observation(data: "2"))) { error in
            XCTAssertEqual((error as? ObservationMergeError)?.type, "NotSupportedException")
        }
        var twoDimensional = observation(data: "1 2")
        if case .sampledData(var s)? = twoDimensional.value { s.dimensions = 2; twoDimensional.value = .sampledData(s) }
        XCTAssertThrowsError(try ObservationMerge.merge(existing: twoDimensional, new: observation(data: "2")))
    }

    func testMergesIntoAnObservationReadFromJSON() throws {
        let stored = try Observation(json: JSONValue(parsing: JSONWriter().string(observation(data: "1 E E E E E E E E E").json)))
        let merged = try ObservationMerge.merge(existing: stored, new: observation(data: "E E E E E E E E E 9"))
        XCTAssertEqual(data(merged), "1 E E E E E E E E 9")
    }
}
