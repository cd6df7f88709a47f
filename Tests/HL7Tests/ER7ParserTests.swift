import EdgeCore
import HL7
import XCTest

final class ER7ParserTests: XCTestCase {
    private func parse(_ text: String) throws -> HL7Message { try ER7Parser().parse(text) }

    private func error(_ text: String) -> HL7Error? {
        do {
            _ = try ER7Parser().parse(text)
            return nil
        } catch {
            return error
        }
    }

    func testFieldsComponentsSubcomponentsAndRepetitions() throws {
        let message = try parse("MSH|^~\\&|App^EUI^ISO|FAC|||20261206||ORU^R01^ORU_R01|C1|P|2.6\rPID|||A1^^^Hosp&1.2.3&ISO^MR~B2^^^Reg^SS||Doe^Jane\r")
        XCTAssertEqual(message.segments.map(\.id), ["MSH", "PID"])
        XCTAssertEqual(message.header.field(1).value, "|")
        XCTAssertEqual(message.header.field(2).value, "^~\\&")
        XCTAssertEqual(message.header.field(3)[component: 2], "EUI")
        XCTAssertEqual(message.controlID, "C1")
        XCTAssertEqual(message.version, "2.6")
        let pid = message.segments[1]
        XCTAssertEqual(pid.field(3).repetitions.count, 2)
        XCTAssertEqual(pid.field(3).repetitions[0][component: 1], "A1")
        XCTAssertEqual(pid.field(3).repetitions[0][4, 2], "1.2.3")
        XCTAssertEqual(pid.field(3).repetitions[0].subcomponents(of: 4), ["Hosp", "1.2.3", "ISO"])
        XCTAssertEqual(pid.field(3).repetitions[1][component: 5], "SS")
        XCTAssertEqual(pid.field(5)[component: 2], "Jane")
        XCTAssertTrue(pid.field(40).isEmpty)
        XCTAssertEqual(pid.field(2).repetitions, [])
    }

    func testEverySegmentTerminatorIsTolerated() throws {
        for terminator in ["\r", "\n", "\r\n"] {
            let text = ["MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6", "PID|||X", "OBR|1"].joined(separator: terminator) + terminator
            XCTAssertEqual(try parse(text).segments.map(\.id), ["MSH", "PID", "OBR"], terminator.debugDescription)
        }
    }

    func testEveryEscapeSequence() throws {
        let message = try parse("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.7|||||||||\rNTE|1|x|\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\P\\|a\\X41C3A9\\b|\\H\\bold\\N\\|l1\\.br\\l2|\\.sp\\x\\C2842\\y\\M2442\\z\\Zlocal\\\r")
        let nte = message.segments[1]
        XCTAssertEqual(nte.field(3).value, "| ^ & ~ \\ #")
        XCTAssertEqual(nte.field(4).value, "aAéb")
        XCTAssertEqual(nte.field(5).value, "bold")
        XCTAssertEqual(nte.field(6).value, "l1\nl2")
        XCTAssertEqual(nte.field(7).value, "xyz")
        // Escaped delimiters do not split: one component, one repetition.
        XCTAssertEqual(nte.field(3).repetitions.count, 1)
        XCTAssertEqual(nte.field(3).first.components.count, 1)
    }

    func testCustomDelimitersAreHonoured() throws {
        let message = try parse("MSH#*!%$#A*B#F#####ORU*R01#9#P#2.6\rPID###X*Y*Z*W$1!Q\rNTE#1#%F% %S% %E%\r")
        XCTAssertEqual(message.delimiters.field, UInt8(ascii: "#"))
        XCTAssertEqual(message.header.field(3)[component: 2], "B")
        let pid = message.segments[1]
        XCTAssertEqual(pid.field(3).repetitions.count, 2)
        XCTAssertEqual(pid.field(3).first[4, 2], "1")
        XCTAssertEqual(message.segments[2].field(2).value, "# * %")
    }

    func testLatin1TextIsRead() throws {
        var bytes = Array("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6|||||8859/1\rNTE|1||Caf".utf8)
        bytes += [0xE9, 0x0D]
        XCTAssertEqual(try ER7Parser().parse(bytes).segments[1].field(3).value, "Café")
    }

    func testErrorsNameTheSegmentFieldAndWhy() {
        XCTAssertEqual(error("PID|||X\r")?.code, .segmentSequence)
        XCTAssertEqual(error("MSH|^~\\&")?.location?.description, "MSH-3")
        XCTAssertEqual(error("MSH|^~|A|F\r")?.location?.description, "MSH-2")
        XCTAssertEqual(error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rPID|||ok\rOBX|1|NM|x|1|12\\X4\\\r")?.location?.description, "OBX-5.1.1")
        let unclosed = error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rOBX|1\rOBX|2|ST|x||a^b\\F")
        XCTAssertEqual(unclosed?.location, HL7Location(segment: "OBX", sequence: 2, field: 5, repetition: 1, component: 2, subcomponent: 1))
        XCTAssertEqual(unclosed?.description, "OBX[2]-5.2.1: an escape sequence is not closed")
        XCTAssertEqual(error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rNTE|\\Q\\\r")?.code, .dataType)
        XCTAssertEqual(error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rNTE|\\X4G\\\r")?.code, .dataType)
        XCTAssertEqual(error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rpid|1\r")?.location?.segment, "pid")
        XCTAssertEqual(error("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rMSH|^~\\&|B\r")?.code, .segmentSequence)
        XCTAssertEqual(error("BHS|^~\\&|A|F\r")?.code, .unsupportedMessageType)
        XCTAssertEqual(error("MSH|^^\\&|A\r")?.location?.description, "MSH-2")
    }

    func testEscapingRoundTrips() throws {
        let text = "a|b^c&d~e\\f\rg"
        let escaped = HL7Escaping.escape(text)
        XCTAssertEqual(escaped, "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\g")
        let message = try parse("MSH|^~\\&|A|F|||||ORU^R01|1|P|2.6\rNTE|1||\(escaped)\r")
        XCTAssertEqual(message.segments[1].field(3).value, "a|b^c&d~e\\f\ng")
    }

    func testTimes() {
        XCTAssertEqual(HL7Time.parse("20261206101455+0100")?.iso8601, "2026-12-06T09:14:55.000Z")
        XCTAssertEqual(HL7Time.parse("20261206101455.1234-0230")?.iso8601, "2026-12-06T12:44:55.123Z")
        XCTAssertEqual(HL7Time.parse("20261206")?.iso8601, "2026-12-06T00:00:00.000Z")
        XCTAssertEqual(HL7Time.parse("202612061014", defaultOffsetMinutes: 60)?.iso8601, "2026-12-06T09:14:00.000Z")
        XCTAssertNil(HL7Time.parse("20260230"))
        XCTAssertNil(HL7Time.parse("2026120610145"))
        XCTAssertNil(HL7Time.parse("20261206101455+01"))
        XCTAssertNil(HL7Time.parse("2026-12-06"))
        XCTAssertEqual(HL7Time.offsetMinutes("20261206101455-0130"), -90)
        XCTAssertNil(HL7Time.offsetMinutes("20261206101455"))
    }
}
