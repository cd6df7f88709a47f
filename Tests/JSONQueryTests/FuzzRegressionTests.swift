import XCTest
@testable import JSONQuery

/// Inputs scripts/fuzz.sh found, kept so the normal suite replays them.
final class FuzzRegressionTests: XCTestCase {
    /// FuzzJSON: `21e30807` parsed as +infinity, which the writer spells `null`, so a device
    /// value beyond Double's range silently became null downstream. It is out of range, an error.
    func testNumberBeyondDoubleRangeIsAnError() {
        for text in ["21e30807", "-21e30807", "[1e309]", #"{"v": 1.5E+400}"#] {
            XCTAssertThrowsError(try JSONValue(parsing: text), text) { error in
                XCTAssertEqual((error as? JSONParseError)?.reason, "number out of range", text)
            }
            XCTAssertThrowsError(try JSONValue(parsing: text, options: .template), text)
        }
        // Underflow is not an error: it reads as zero, which writes and reads back the same.
        XCTAssertEqual(try JSONValue(parsing: "1e-400"), .double(0))
        XCTAssertEqual(try JSONValue(parsing: "1.7976931348623157e308"), .double(.greatestFiniteMagnitude))
    }
}
