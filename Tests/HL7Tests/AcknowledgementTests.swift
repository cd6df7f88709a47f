import EdgeCore
import HL7
import XCTest

final class AcknowledgementTests: XCTestCase {
    let time = Timestamp(millisecondsSinceEpoch: 1_796_000_000_000)

    private func segments(_ ack: String) -> [[String]] {
        ack.split(separator: "\r").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    func testAcceptSwapsSenderAndReceiverAndEchoesTheControlID() {
        let header = HL7OriginalHeader(scanning: Array("MSH|^~\\&|Mon^ACDE48234567ABCD^EUI-64|ICU|GW|CLINIC|20261206||ORU^R01^ORU_R01|MSG-1|P|2.6|||NE|AL\rPID|1\r".utf8))
        let ack = HL7AcknowledgementBuilder().acknowledgement(to: header, code: .accept, controlID: "A1", at: time)
        XCTAssertTrue(ack.hasSuffix("\r"))
        let rows = segments(ack)
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(Array(rows[0][1...6]), ["^~\\&", "GW", "CLINIC", "Mon^ACDE48234567ABCD^EUI-64", "ICU", HL7Time.format(time)])
        XCTAssertEqual(rows[0][8], "ACK^R01^ACK")
        XCTAssertEqual(rows[0][9], "A1")
        XCTAssertEqual(rows[0][10], "P")
        XCTAssertEqual(rows[0][11], "2.6")
        XCTAssertEqual(rows[1], ["MSA", "AA", "MSG-1"])
        // The ACK itself parses.
        XCTAssertEqual(try ER7Parser().parse(ack).segments.map(\.id), ["MSH", "MSA"])
    }

    func testErrorsCarryLocationCodeSeverityAndEscapedReason() throws {
        let header = HL7OriginalHeader(scanning: Array("MSH|^~\\&|Mon|ICU|||x||ORU^R01|M|P|2.6\r".utf8))
        let errors = [
            HL7Error(.dataType, at: HL7Location(segment: "OBX", sequence: 3, field: 5, repetition: 1, component: 1), "not a number | really"),
            HL7Error(.applicationInternal, at: nil, "store full"),
        ]
        let ack = HL7AcknowledgementBuilder(application: "fhir-edge", facility: "EDGE").acknowledgement(to: header, code: .error, errors: errors, controlID: "A2", at: time)
        let rows = segments(ack)
        XCTAssertEqual(rows[0][2], "fhir-edge")
        XCTAssertEqual(rows[0][3], "EDGE")
        XCTAssertEqual(rows[1], ["MSA", "AE", "M"])
        XCTAssertEqual(rows[2], ["ERR", "", "OBX^3^5^1^1", "102^Data type error^HL70357", "E", "", "", "", "not a number \\F\\ really"])
        XCTAssertEqual(rows[3], ["ERR", "", "", "207^Application internal error^HL70357", "E", "", "", "", "store full"])
        let parsed = try ER7Parser().parse(ack)
        XCTAssertEqual(parsed.segments[2].field(8).value, "not a number | really")
    }

    func testOlderVersionsGetTheirERRAndMSA3() {
        let header = HL7OriginalHeader(scanning: Array("MSH|^~\\&|Mon|ICU|||x||ORU^R01|M|P|2.3\r".utf8))
        let error = HL7Error(.requiredFieldMissing, at: HL7Location(segment: "OBX", field: 3), "OBX-3 is empty")
        let rows = segments(HL7AcknowledgementBuilder().acknowledgement(to: header, code: .error, errors: [error], controlID: "A3", at: time))
        XCTAssertEqual(rows[0][8], "ACK^R01")
        XCTAssertEqual(rows[1], ["MSA", "AE", "M", "OBX-3: OBX-3 is empty"])
        XCTAssertEqual(rows[2], ["ERR", "OBX^1^3^101&Required field missing&HL70357"])
    }

    func testUnparseableInputStillGetsAnACK() throws {
        let header = HL7OriginalHeader(scanning: Array("garbage".utf8))
        let ack = HL7AcknowledgementBuilder().acknowledgement(to: header, code: .error, errors: [HL7Error(.segmentSequence, at: HL7Location(segment: "MSH"), "no MSH")], controlID: "A4", at: time)
        let parsed = try ER7Parser().parse(ack)
        XCTAssertEqual(parsed.segments[1].field(1).value, "AE")
        XCTAssertEqual(parsed.segments[1].field(2).value, "")
        XCTAssertEqual(parsed.header.field(12).value, "2.6")
    }

    func testSenderDelimitersAreUsedInTheACK() throws {
        let header = HL7OriginalHeader(scanning: Array("MSH#*!%$#Mon*X#ICU#####ORU*R01#M%F%1#P#2.6\r".utf8))
        XCTAssertEqual(header.controlID, "M#1")
        let ack = HL7AcknowledgementBuilder().acknowledgement(to: header, code: .accept, controlID: "A5", at: time)
        XCTAssertTrue(ack.hasPrefix("MSH#*!%$#fhir-edge##Mon*X#ICU#"), ack)
        XCTAssertTrue(ack.contains("\rMSA#AA#M%F%1\r"), ack)
        let parsed = try ER7Parser().parse(ack)
        XCTAssertEqual(parsed.header.field(5)[component: 2], "X")
        XCTAssertEqual(parsed.segments[1].field(1).value, "AA")
    }
}
