import Foundation
import JSONQuery
import TestSupport
import XCTest

/// `fhir-edge modbus read` as scripts use it: values on stdout (`--json`: `{"values": [...]}`),
/// exceptions by name and timeouts on stderr with a non-zero exit, usage errors exit 2.
final class ModbusReadCommandTests: XCTestCase {
    private var peers: [ModbusPeer] = []

    override func tearDown() {
        for peer in peers { peer.stop() }
        peers = []
        super.tearDown()
    }

    private func start(_ kind: ModbusPeer.Kind, _ transport: ModbusPeer.Transport) throws -> ModbusPeer? {
        guard let peer = try ModbusPeer.start(kind, transport) else { return nil }
        peers.append(peer)
        return peer
    }

    private func read(_ peer: ModbusPeer, _ arguments: [String]) throws -> CommandResult {
        try CommandRunner.run(["modbus", "read"] + peer.commandLineEndpoint + arguments, timeout: 30)
    }

    private func values(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws -> [JSONValue] {
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        let parsed = try result.stdout.withUnsafeBytes { try JSONValue(parsing: $0.bindMemory(to: UInt8.self)) }
        guard case .object(let object) = parsed, case .array(let values)? = object["values"] else {
            XCTFail("not {\"values\": [...]}: \(result.stdoutText)", file: file, line: line)
            return []
        }
        return values
    }

    func testEveryTypeAndByteOrderDecodedAndScaled() throws {
        guard let peer = try start(.own, .tcp) else { return }
        let cases: [([String], [JSONValue])] = [
            (["--table", "holding", "--address", "1", "--type", "uint16"], [.int(54321)]),
            (["--table", "holding", "--address", "2", "--type", "int16"], [.int(-1234)]),
            (["--table", "holding", "--address", "3", "--type", "int16", "--scale", "0.1"], [.double(21.5)]),
            (["--table", "holding", "--address", "10", "--type", "int32", "--byte-order", "ABCD"], [.int(-123456789)]),
            (["--table", "holding", "--address", "12", "--type", "uint32", "--byte-order", "CDAB"], [.int(3_000_000_000)]),
            (["--table", "holding", "--address", "14", "--type", "float32", "--byte-order", "ABCD"], [.double(123456)]),
            (["--table", "holding", "--address", "16", "--type", "float32", "--byte-order", "BADC"], [.double(123456)]),
            (["--table", "holding", "--address", "18", "--type", "float32", "--byte-order", "CDAB"], [.double(123456)]),
            (["--table", "holding", "--address", "20", "--type", "float32", "--byte-order", "DCBA"], [.double(123456)]),
            (["--table", "holding", "--address", "30", "--type", "int64", "--byte-order", "ABCDEFGH"], [.int(-1_234_567_890_123)]),
            (["--table", "holding", "--address", "38", "--type", "float64", "--byte-order", "BADCFEHG"], [.double(1234.5)]),
            (["--table", "holding", "--address", "42", "--type", "float64", "--byte-order", "GHEFCDAB"], [.double(-0.125)]),
            (["--table", "holding", "--address", "50", "--type", "string[4]"], [.string("RM-100")]),
            (["--table", "input", "--address", "1", "--count", "3"], [.int(1001), .int(1002), .int(1003)]),
            (["--table", "coil", "--address", "0", "--count", "4"], [.bool(true), .bool(false), .bool(false), .bool(true)]),
            (["--table", "discrete", "--address", "0", "--count", "2"], [.bool(false), .bool(true)]),
        ]
        for (arguments, expected) in cases {
            let result = try read(peer, ["--unit", "1", "--json"] + arguments)
            XCTAssertEqual(try values(result), expected, arguments.joined(separator: " "))
        }
        // Without --json: one value per line.
        let plain = try read(peer, ["--unit", "1", "--table", "input", "--address", "5", "--count", "2"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.stdoutText, "1005\n1006\n")
        // A uint64 beyond Int64 keeps its magnitude.
        let big = try values(try read(peer, ["--unit", "1", "--json", "--table", "holding", "--address", "34", "--type", "uint64", "--byte-order", "HGFEDCBA"]))
        XCTAssertEqual(big, [.double(18_000_000_000_000_000_000)])
    }

    func testExceptionsTimeoutsAndUsageErrorsExitNonZeroWithTheirNames() throws {
        guard let peer = try start(.own, .tcp) else { return }
        let failures: [([String], String)] = [
            (["--unit", "1", "--table", "holding", "--address", "5"], "illegal data address"),
            (["--unit", "2", "--table", "holding", "--address", "31"], "server device busy"),
            (["--unit", "2", "--table", "holding", "--address", "30"], "server device failure"),
            (["--unit", "2", "--table", "coil", "--address", "0"], "illegal function"),
            (["--unit", "4", "--table", "holding", "--address", "0", "--timeout-ms", "300"], "timeout"),
        ]
        for (arguments, name) in failures {
            let result = try read(peer, arguments + ["--json"])
            XCTAssertEqual(result.status, 1, arguments.joined(separator: " "))
            XCTAssertTrue(result.stderr.contains(name), "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stdout.isEmpty, result.stdoutText)
        }
        let usage: [[String]] = [
            ["--unit", "1", "--table", "holdings", "--address", "0"],
            ["--unit", "1", "--table", "holding", "--address", "40001", "--count", "1", "--type", "float64", "--byte-order", "XYZW"],
            ["--unit", "1", "--table", "holding", "--address", "0", "--count", "40", "--type", "float64"],
            ["--unit", "1", "--table", "coil", "--address", "0", "--type", "float32"],
            ["--unit", "300", "--table", "holding", "--address", "0"],
        ]
        for arguments in usage {
            let result = try read(peer, arguments)
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("fhir-edge: "), result.stderr)
        }
        let badBaud = try CommandRunner.run(["modbus", "read", "--rtu", "/dev/ttyUSB0", "--baud", "12345", "--unit", "1", "--table", "holding", "--address", "0"])
        XCTAssertEqual(badBaud.status, 2)
        XCTAssertTrue(badBaud.stderr.contains("baud 12345"), badBaud.stderr)
        let nowhere = try CommandRunner.run(["modbus", "read", "--unit", "1", "--table", "holding", "--address", "0"])
        XCTAssertEqual(nowhere.status, 2)
        XCTAssertTrue(nowhere.stderr.contains("--tcp HOST:PORT or --rtu DEVICE"), nowhere.stderr)
    }

    func testReadsOverRTU() throws {
        guard let peer = try start(.own, .rtu) else { return }
        let result = try read(peer, ["--unit", "1", "--table", "holding", "--address", "14", "--count", "4", "--type", "float32", "--byte-order", "ABCD", "--json"])
        XCTAssertEqual(try values(result).first, .double(123456))
        let silent = try read(peer, ["--unit", "4", "--table", "input", "--address", "1", "--timeout-ms", "200"])
        XCTAssertEqual(silent.status, 1)
        XCTAssertTrue(silent.stderr.contains("timeout"), silent.stderr)
        // The next process on the line still reads its own values, not the silent unit's nothing.
        let next = try read(peer, ["--unit", "1", "--table", "input", "--address", "7", "--json"])
        XCTAssertEqual(try values(next), [.int(1007)])
    }

    func testRigGasPanelPointsAtTheDocumentedTicks() throws {
        guard let rig = try start(.rig, .tcp) else { return }
        // Unit 2 ticks once per read: o2_pressure at n = 0, air_pressure (CDAB) at n = 1, o2_total_m3 at n = 2.
        XCTAssertEqual(try values(try read(rig, ["--unit", "2", "--table", "holding", "--address", "100", "--type", "float32", "--json"])), [.double(4.0)])
        XCTAssertEqual(try values(try read(rig, ["--unit", "2", "--table", "holding", "--address", "102", "--type", "float32", "--byte-order", "CDAB", "--json"])), [.double(4.9960938)], "float32 printed as its shortest decimal")
        XCTAssertEqual(try values(try read(rig, ["--unit", "2", "--table", "holding", "--address", "112", "--type", "float64", "--byte-order", "ABCDEFGH", "--json"])), [.double(1234.75)])
        // Unit 1 temperature at n = 0, scaled 0.1.
        XCTAssertEqual(try values(try read(rig, ["--unit", "1", "--table", "input", "--address", "1", "--type", "int16", "--scale", "0.1", "--json"])), [.double(20.0)])
        let failed = try read(rig, ["--unit", "3", "--table", "holding", "--address", "30"])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("server device failure"), failed.stderr)
    }
}
