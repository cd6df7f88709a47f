import XCTest

@testable import Bluetooth

/// The fuzz targets' entry points (`PacketParsing`) parse what a real session sends, so a fuzz run
/// starts from inputs that reach deep; inputs the fuzzer found are replayed here.
final class PacketParsingTests: XCTestCase {
    static let peer: [UInt8] = [0x0D, 0x18, 0x00, 0x00, 0x00, 0xF0]

    static func event(_ code: UInt8, _ parameters: [UInt8]) -> [UInt8] { [0x04, code, UInt8(parameters.count)] + parameters }

    static func acl(_ handle: UInt16, channel: UInt16, _ payload: [UInt8]) -> [UInt8] {
        let frame = le16(UInt16(payload.count)) + le16(channel) + payload
        return [0x02] + le16(handle | 0b10 << 12) + le16(UInt16(frame.count)) + frame
    }

    func testAControllerStreamIsFramedAcrossTheCutAndEveryPacketParsed() {
        let reset = Self.event(0x0E, [0x01, 0x03, 0x0C, 0x00])
        let buffer = Self.event(0x0E, [0x01, 0x02, 0x20, 0x00] + le16(27) + [4])
        let connection = Self.event(0x3E, [0x01, 0x00] + le16(0x40) + [0x00, 0x01] + Self.peer + le16(24) + le16(0) + le16(500) + [0])
        let services = Self.acl(0x40, channel: 4, [0x11, 0x06] + le16(1) + le16(5) + le16(0x1800))
        let stream = reset + buffer + connection + services
        for split in [0, 1, 5, stream.count / 2, stream.count] {
            XCTAssertEqual(PacketParsing.controllerStream(stream, split: split), 4, "cut at \(split)")
        }
        XCTAssertEqual(PacketParsing.controllerStream([0x04, 0x0E], split: 1), 0, "an incomplete event is no packet")
    }

    func testFragmentsAreReassembledPerLink() {
        let payload: [UInt8] = [0x01, 0x03, 0x00, 0x09, 0x10, 0x07, 0x07]
        let frame = le16(UInt16(payload.count)) + le16(6) + payload
        let fragments: [UInt8] = [0, 0b10, 5] + frame.prefix(5) + [1, 0b10, 4] + [0x02, 0x00, 0x05, 0x00]
            + [0, 0b01, UInt8(frame.count - 5)] + frame.dropFirst(5) + [1, 0b01, 2, 0x0B, 0x2D]
        XCTAssertEqual(PacketParsing.aclFragments(fragments), 2, "an SMP PDU on link 0, a signalling PDU on link 1, interleaved")
    }

    func testAResponseToEachRequestIsParsed() {
        XCTAssertEqual(PacketParsing.attributeExchange([0, 0x03, 0xF7, 0x00]), 1)
        XCTAssertEqual(PacketParsing.attributeExchange([1, 0x11, 0x06] + le16(1) + le16(5) + le16(0x1800)), 1)
        XCTAssertEqual(PacketParsing.attributeExchange([2, 0x09, 0x07] + le16(16) + [0x10] + le16(17) + le16(0x2A37)), 1)
        XCTAssertEqual(PacketParsing.attributeExchange([3, 0x05, 0x01] + le16(18) + le16(0x2902)), 1)
        XCTAssertEqual(PacketParsing.attributeExchange([4, 0x0B, 0x41, 0x42]), 1)
        XCTAssertEqual(PacketParsing.attributeExchange([4, 0x01, 0x0A, 0x03, 0x00, 0x0A]), 0, "an Error Response fails the read")
        XCTAssertEqual(PacketParsing.attributeExchange([4, 0x1B, 0x10, 0x00, 0x48]), 0, "a notification is no response")
        XCTAssertEqual(PacketParsing.attributeExchange([]), 0)
    }

    func testSMPPDUsSurviveReencoding() {
        XCTAssertEqual(PacketParsing.securityManagerPDU([0x01, 0x03, 0x00, 0x09, 0x10, 0x07, 0x07]), 1)
        XCTAssertEqual(PacketParsing.securityManagerPDU([0x0C] + Array(0..<64)), 1)
        XCTAssertEqual(PacketParsing.securityManagerPDU([0x05, 0x05]), 1)
        XCTAssertEqual(PacketParsing.securityManagerPDU([0x01, 0x03]), 0, "a truncated Pairing Request does not parse")
    }
}
