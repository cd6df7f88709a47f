@testable import Modbus
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// How each libmodbus error is reported and what it leaves the link to do (pure, no I/O).
final class ModbusLinkRecoveryTests: XCTestCase {
    /// libmodbus' MODBUS_ENOBASE: exception N is reported as errno ENOBASE + N.
    private let base: Int32 = 112_345_678

    func testExceptionsKeepTheLinkAndCarryTheirSpecificationNames() {
        for exception in ModbusException.allCases {
            let failure = LinkFailure.classify(code: base + Int32(exception.rawValue), serial: false)
            XCTAssertEqual(failure.kind, .exception(exception))
            XCTAssertEqual(failure.recovery, .none)
            XCTAssertEqual(failure.cause, "\(exception) (exception \(exception.rawValue))")
        }
        XCTAssertEqual(ModbusException.serverDeviceBusy.description, "server device busy")
        XCTAssertEqual(ModbusException.illegalDataAddress.description, "illegal data address")
        // Code 9 is not defined by the specification.
        XCTAssertEqual(LinkFailure.classify(code: base + 9, serial: true).kind, .badReply)
    }

    func testTimeoutsAndBadRepliesPutTheLinkBackInStep() {
        // EMBBADCRC, EMBBADDATA, EMBBADEXC, EMBBADSLAVE.
        for code in [ETIMEDOUT, base + 12, base + 13, base + 14, base + 17] {
            XCTAssertEqual(LinkFailure.classify(code: code, serial: false).recovery, .reconnect, "code \(code)")
            XCTAssertEqual(LinkFailure.classify(code: code, serial: true).recovery, .resync, "code \(code)")
        }
        XCTAssertEqual(LinkFailure.classify(code: ETIMEDOUT, serial: true).kind, .timeout)
        XCTAssertEqual(LinkFailure.classify(code: base + 13, serial: false).kind, .badReply)
    }

    func testConnectionErrorsReconnectAndRequestErrorsChangeNothing() {
        for code in [ECONNRESET, EPIPE, ECONNREFUSED, EBADF, EIO] {
            let failure = LinkFailure.classify(code: code, serial: true)
            XCTAssertEqual(failure.kind, .connection)
            XCTAssertEqual(failure.recovery, .reconnect)
        }
        // EMBMDATA: too many registers, refused before any I/O.
        let tooMany = LinkFailure.classify(code: base + 16, serial: false)
        XCTAssertEqual(tooMany.kind, .invalidRequest)
        XCTAssertEqual(tooMany.recovery, .none)
    }

    func testRequestLimitsAreCheckedBeforeTheWire() {
        func problem(_ table: ModbusTable, _ address: UInt16, _ count: UInt16, unit: UInt8 = 1, serial: Bool = false) -> String? {
            LinkSession.problem(with: ModbusReadRequest(unit: unit, table: table, address: address, count: count), serial: serial)
        }
        XCTAssertNil(problem(.holding, 0, 125))
        XCTAssertNotNil(problem(.holding, 0, 126))
        XCTAssertNil(problem(.coil, 0, 2000))
        XCTAssertNotNil(problem(.discrete, 0, 2001))
        XCTAssertNotNil(problem(.input, 0, 0))
        XCTAssertNil(problem(.input, 65535, 1))
        XCTAssertNotNil(problem(.input, 65535, 2))
        XCTAssertNil(problem(.holding, 0, 1, unit: 255))
        XCTAssertNotNil(problem(.holding, 0, 1, unit: 248, serial: true))
    }

    func testEndpointsNameThemselves() {
        XCTAssertEqual(ModbusEndpoint.tcp(host: "127.0.0.1", port: 1502).description, "tcp 127.0.0.1:1502")
        XCTAssertEqual(ModbusEndpoint.tcp(host: "::1", port: 502).description, "tcp [::1]:502")
        XCTAssertEqual(ModbusEndpoint.rtu(ModbusSerialLine(device: "/dev/ttyUSB0", baud: 9600, parity: .none, dataBits: 8, stopBits: 2)).description,
                       "rtu /dev/ttyUSB0 9600 8N2")
        XCTAssertNotNil(ModbusSerialLine(device: "/dev/ttyUSB0", baud: 12345).problem)
        XCTAssertNil(ModbusSerialLine(device: "/dev/ttyUSB0", baud: 19200).problem)
    }
}
