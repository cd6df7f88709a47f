import XCTest
@testable import JSONQuery

/// Inputs scripts/fuzz.sh found, kept so the normal suite replays them.
final class FuzzRegressionTests: XCTestCase {
    /// FuzzJSON: `21e30807` parsed as +infinity, which the writer spelled `null`, so a device value
    /// beyond Double's range silently became null downstream. Such a number now keeps its text:
    /// it is never null, and it writes back as it was read.
    func testNumberBeyondDoubleRangeKeepsItsTextAndRoundTrips() throws {
        for (text, number) in [("21e30807", "21e30807"), ("-21e30807", "-21e30807"), ("[1e309]", "1e309"), (#"{"v": 1.5E+400}"#, "1.5E+400")] {
            for options in [JSONParseOptions(), .template] {
                let value = try JSONValue(parsing: text, options: options)
                let written = JSONWriter().string(value)
                XCTAssertFalse(written.contains("null"), "\(text) must not become null: \(written)")
                XCTAssertTrue(written.contains(number), "\(text) writes back as read: \(written)")
                XCTAssertEqual(try JSONValue(parsing: written, options: options), value, text)
            }
        }
        XCTAssertEqual(try JSONValue(parsing: "1.7976931348623157e308"), .double(.greatestFiniteMagnitude))
    }
}
