import EdgeCore
import XCTest

final class ClockWatchTests: XCTestCase {
    func testAJumpIsTheWallClockMovingOtherwiseThanElapsedTime() {
        var watch = ClockWatch(tolerance: .seconds(2))
        let start = Timestamp(secondsSinceEpoch: 1_800_000_000)
        XCTAssertEqual(watch.observe(.init(wall: start, monotonic: .seconds(100), sync: "unsynchronised")),
                       [.sync(state: "unsynchronised", previous: nil)])
        // Ten seconds later on both clocks, one second of drift: no jump.
        XCTAssertEqual(watch.observe(.init(wall: start.adding(milliseconds: 11_000), monotonic: .seconds(110), sync: "unsynchronised")), [])
        // The wall clock set back an hour.
        let back = start.adding(milliseconds: 21_000 - 3_600_000)
        XCTAssertEqual(watch.observe(.init(wall: back, monotonic: .seconds(120), sync: "unsynchronised")),
                       [.jumped(byMilliseconds: -3_600_000, expected: start.adding(milliseconds: 21_000), observed: back)])
        // NTP steps it forward and reports synchronised.
        let stepped = back.adding(milliseconds: 10_000 + 3_600_000)
        XCTAssertEqual(watch.observe(.init(wall: stepped, monotonic: .seconds(130), sync: "synchronised")),
                       [.jumped(byMilliseconds: 3_600_000, expected: back.adding(milliseconds: 10_000), observed: stepped),
                        .sync(state: "synchronised", previous: "unsynchronised")])
    }
}
