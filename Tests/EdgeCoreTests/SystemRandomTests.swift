import EdgeCore
import XCTest

final class SystemRandomTests: XCTestCase {
    func testEveryByteAskedForIsFilledAcrossChunks() {
        XCTAssertEqual(SystemRandom.bytes(0), [])
        XCTAssertEqual(SystemRandom.bytes(12).count, 12)
        // 600 bytes take three getentropy calls; a chunk left unfilled would stay zero, and 64 zero
        // bytes in a row from a CSPRNG happen with probability 2^-512.
        let long = SystemRandom.bytes(600)
        XCTAssertEqual(long.count, 600)
        for start in stride(from: 0, to: 600, by: 64) {
            XCTAssertTrue(long[start..<min(600, start + 64)].contains { $0 != 0 }, "bytes \(start)... are all zero")
        }
    }

    func testTwoNoncesDiffer() {
        XCTAssertNotEqual(SystemRandom.bytes(16), SystemRandom.bytes(16))
    }
}
