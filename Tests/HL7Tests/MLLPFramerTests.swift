import HL7
import XCTest

final class MLLPFramerTests: XCTestCase {
    func testFramesSplitAnywhereAndNoiseBetween() {
        let stream = Array("\r\n".utf8) + MLLPFramer.frame(Array("MSH|one".utf8)) + Array("xx".utf8) + MLLPFramer.frame(Array("MSH|two".utf8))
        for cut in 0...stream.count {
            var framer = MLLPFramer(maxFrameBytes: 100)
            let events = framer.feed(stream[..<cut]) + framer.feed(stream[cut...])
            XCTAssertEqual(events, [.frame(Array("MSH|one".utf8)), .frame(Array("MSH|two".utf8))], "cut at \(cut)")
            XCTAssertFalse(framer.isInsideFrame)
        }
    }

    func testOversizedFrameKeepsItsHeadAndTheNextFrameStillArrives() {
        var framer = MLLPFramer(maxFrameBytes: 10)
        let big = Array(repeating: UInt8(ascii: "a"), count: 5000)
        let events = framer.feed(MLLPFramer.frame(big) + MLLPFramer.frame(Array("ok".utf8)))
        XCTAssertEqual(events.count, 2)
        guard case .oversized(let head) = events[0] else { return XCTFail("\(events)") }
        XCTAssertEqual(head.count, 10)
        XCTAssertEqual(events[1], .frame(Array("ok".utf8)))
        XCTAssertLessThanOrEqual(framer.bufferedBytes, 10)
    }

    func testRestartedFrameAndStrayCount() {
        var framer = MLLPFramer(maxFrameBytes: 100)
        XCTAssertEqual(framer.feed([0x0B] + Array("part".utf8)), [])
        XCTAssertTrue(framer.isInsideFrame)
        XCTAssertEqual(framer.feed(MLLPFramer.frame(Array("whole".utf8))), [.frame(Array("whole".utf8))])
        _ = framer.feed(Array("noise".utf8))
        XCTAssertEqual(framer.strayBytes, 5)
    }
}
