import XCTest
import EdgeCore

final class TimestampParsingTests: XCTestCase {
    private func iso(_ text: String) -> String? {
        Timestamp(parsingISO8601Lenient: text)?.iso8601
    }

    func testISOFormsWithZones() {
        XCTAssertEqual(iso("2019-02-01T22:46:01.875Z"), "2019-02-01T22:46:01.875Z")
        XCTAssertEqual(iso("2019-02-01T22:46:01.8750000Z"), "2019-02-01T22:46:01.875Z")
        XCTAssertEqual(iso("2019-01-30T22:45:02.6073744Z"), "2019-01-30T22:45:02.607Z", "ticks truncate to ms")
        XCTAssertEqual(iso("2019-02-01t22:46:01z"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-02-01T22:46:01.8Z"), "2019-02-01T22:46:01.800Z")
        XCTAssertEqual(iso("2019-02-01T22:46:01.87Z"), "2019-02-01T22:46:01.870Z")
    }

    func testOffsetsConvertToTheSameInstant() {
        XCTAssertEqual(iso("2019-02-01T23:46:01.875+01:00"), "2019-02-01T22:46:01.875Z")
        XCTAssertEqual(iso("2019-02-01T17:16:01-0530"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-02-02T00:46:01+02"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-01-01T00:30:00+01:00"), "2018-12-31T23:30:00.000Z", "crosses a year boundary")
    }

    func testZonelessIsUTCAndLenientForms() {
        XCTAssertEqual(iso("2019-02-01T22:46:01"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-02-01 22:46:01"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-02-01T22:46"), "2019-02-01T22:46:00.000Z")
        XCTAssertEqual(iso("2019-02-01"), "2019-02-01T00:00:00.000Z")
        XCTAssertEqual(iso("  2019-02-01T22:46:01Z \n"), "2019-02-01T22:46:01.000Z")
        XCTAssertEqual(iso("2019-2-1T8:05:09Z"), "2019-02-01T08:05:09.000Z", "single-digit fields as .NET accepts")
        XCTAssertEqual(iso("02/01/2019 22:46:01"), "2019-02-01T22:46:01.000Z", ".NET invariant month/day/year")
        XCTAssertEqual(iso("1969-12-31T23:59:59Z"), "1969-12-31T23:59:59.000Z")
        XCTAssertEqual(iso("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00.000Z")
    }

    func testRejectsNonDates() {
        for text in [
            "", " ", "1549061161875", "60", "abc", "2019", "2019-02", "2019-13-01", "2019-02-30", "2023-02-29",
            "2019-02-01T25:00:00Z", "2019-02-01T22:60:00Z", "2019-02-01T22:46:61Z", "2019-02-01T22:46:01.Z",
            "2019-02-01T22:46:01+25:00", "2019-02-01T22:46:01Zjunk", "2019-02-01T", "20190201T224601Z",
            "2019-02-01T22:46:01 +01:00 x", "0000-01-01T00:00:00Z", "2019-02-01T22", "--",
        ] {
            XCTAssertNil(Timestamp(parsingISO8601Lenient: text), "should reject \(text.debugDescription)")
        }
    }

    func testNeverCrashesOnArbitraryText() {
        var generator = SplitMix64(seed: 7)
        let alphabet = Array("0123456789-:T.Z+ /tz,".utf8)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 32)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let text = String(decoding: bytes, as: UTF8.self)
            if let t = Timestamp(parsingISO8601Lenient: text) {
                // Whatever parses must be a representable instant that formats back to a date.
                XCTAssertEqual(Timestamp(parsingISO8601Lenient: t.iso8601), t)
            }
        }
    }
}


final class CertificateTimeTests: XCTestCase {
    func testOpenSSLsEndDateIsReadInGMT() {
        XCTAssertEqual(Timestamp(parsingCertificateTime: "Jan  5 12:03:09 2027 GMT")?.iso8601, "2027-01-05T12:03:09.000Z")
        XCTAssertEqual(Timestamp(parsingCertificateTime: "Dec 31 23:59:60 2030 GMT")?.iso8601, "2030-12-31T23:59:59.000Z")
        XCTAssertEqual(Timestamp(parsingCertificateTime: "Feb 28 00:00:00 2026 GMT")?.iso8601, "2026-02-28T00:00:00.000Z")
    }

    func testAnythingElseIsNotUnderstood() {
        for text in ["", "Jan 5 12:03:09 2027", "Jan 5 12:03:09 2027 CET", "Foo 5 12:03:09 2027 GMT", "Jan 32 12:03:09 2027 GMT",
                     "Jan 5 24:00:00 2027 GMT", "Jan 5 12:03 2027 GMT", "Jan 5 12::09 2027 GMT", "2027-01-05T12:03:09Z"] {
            XCTAssertNil(Timestamp(parsingCertificateTime: text), text)
        }
    }
}
