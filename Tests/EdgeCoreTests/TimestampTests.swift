import XCTest
import EdgeCore

final class TimestampTests: XCTestCase {
    func testFormatsUTCWithMilliseconds() {
        XCTAssertEqual(Timestamp(millisecondsSinceEpoch: 0).iso8601, "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp(millisecondsSinceEpoch: 1_549_061_161_875).iso8601, "2019-02-01T22:46:01.875Z")
        XCTAssertEqual(Timestamp(millisecondsSinceEpoch: -1000).iso8601, "1969-12-31T23:59:59.000Z")
    }

    func testCivilRoundTripAcrossLeapYears() {
        for ms in stride(from: Int64(-5_000_000_000_000), to: 5_000_000_000_000, by: 86_399_997_013) {
            let t = Timestamp(millisecondsSinceEpoch: ms)
            XCTAssertEqual(Timestamp(t.components), t)
        }
        let c = Timestamp.Components(year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 59, millisecond: 999)
        XCTAssertEqual(Timestamp(c).iso8601, "2024-02-29T23:59:59.999Z")
        XCTAssertEqual(Timestamp(c, offsetMinutes: 120).iso8601, "2024-02-29T21:59:59.999Z")
    }

    /// The bytes appended for an Observation are the text's, for four-digit years and beyond.
    func testAppendedISO8601BytesAreTheText() {
        for ms: Int64 in [0, 1, 999, 1_764_230_400_123, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -62_135_596_800_000] {
            let t = Timestamp(millisecondsSinceEpoch: ms)
            var bytes: [UInt8] = [0x20]
            t.appendISO8601(to: &bytes)
            XCTAssertEqual(String(decoding: bytes.dropFirst(), as: UTF8.self), t.iso8601, "\(ms)")
            XCTAssertEqual(bytes.first, 0x20)
        }
        XCTAssertEqual(Timestamp(millisecondsSinceEpoch: 1_764_230_400_123).iso8601, "2025-11-27T08:00:00.123Z")
    }
}
