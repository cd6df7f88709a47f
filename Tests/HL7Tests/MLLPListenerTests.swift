import EdgeCore
import Foundation
import HL7
import MLLP
import NIOCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A sink that keeps one message per delivery key, as the store does, and can be told to be full.
actor RecordingSink: MessageSink {
    var stored: [String: DeviceMessage] = [:]
    var full = false

    func setFull(_ value: Bool) { full = value }

    func deliver(_ messages: [DeviceMessage]) async -> IntakeDecision {
        if full { return .retryLater(IntakeRefusal(code: "store-full", reason: "the store is above its high-water mark"), after: .seconds(30)) }
        var new = 0, duplicates = 0
        for message in messages {
            let key = message.deliveryKey ?? UUID().uuidString
            if stored[key] == nil { stored[key] = message; new += 1 } else { duplicates += 1 }
        }
        return .accepted(stored: new, duplicates: duplicates)
    }
}

/// A blocking loopback MLLP client.
final class MLLPClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The next ACK, or nil when the connection closed first.
    func receive() -> HL7Message? {
        var framer = MLLPFramer(maxFrameBytes: 1 << 20)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            if case .frame(let bytes)? = framer.feed(buffer[..<count]).first { return try? ER7Parser().parse(bytes) }
        }
    }

    func exchange(_ message: String) -> HL7Message? {
        send(MLLPFramer.frame(Array(message.utf8)))
        return receive()
    }
}

final class MLLPListenerTests: XCTestCase {
    static func message(control: String, facility: String = "ICU-EAST") -> String {
        "MSH|^~\\&|Mon^ACDE48234567ABCD^EUI-64|\(facility)|GW|CLINIC|20261206101500+0100||ORU^R01^ORU_R01|\(control)|P|2.6|||NE|AL\r"
            + "PID|||P1^^^H&1.2.3&ISO^MR\rOBR|1\rOBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R|||20261206101455+0100\r"
    }

    private func start(
        sink: RecordingSink, facilities: Set<String> = [], maxMessageBytes: Int = 64 * 1024, idle: TimeAmount = .seconds(30),
        frame: TimeAmount = .seconds(30), connections: Int = 8
    ) async throws -> (MLLPListener, Task<Void, Never>) {
        let counter = LockedCounter()
        let intake = MLLPIntake(
            profile: ProfileID("hl7-pcd01-vitals"), allowedFacilities: facilities, maxMessageBytes: maxMessageBytes, sink: sink,
            now: { Timestamp(millisecondsSinceEpoch: 1_796_000_000_000) }, nextControlID: { "ACK\(counter.next())" })
        let settings = MLLPListenerSettings(host: "127.0.0.1", port: 0, idleTimeout: idle, frameTimeout: frame, maxConnections: connections)
        let listener = try await MLLPListener.bind(settings, intake: intake)
        let task = Task { await listener.run() }
        return (listener, task)
    }

    private static func code(_ ack: HL7Message?) -> String? { ack?.segments.first { $0.id == "MSA" }?.field(1).value }

    func testAcceptDuplicateMalformedAndFullStore() async throws {
        let sink = RecordingSink()
        let (listener, task) = try await start(sink: sink, facilities: ["ICU-EAST"])
        defer { task.cancel() }
        let port = listener.localPort
        try await blocking {
            let client = try MLLPClient(port: port)
            let first = client.exchange(Self.message(control: "C1"))
            XCTAssertEqual(Self.code(first), "AA")
            XCTAssertEqual(first?.segments[1].field(2).value, "C1")
            XCTAssertEqual(first?.header.field(9).first.components.map { $0.first ?? "" }, ["ACK", "R01", "ACK"])
            XCTAssertEqual(first?.header.field(5).value, "Mon", "MSH-5 of the ACK is the sender's MSH-3")
            XCTAssertEqual(Self.code(client.exchange(Self.message(control: "C1"))), "AA", "a resend is acknowledged again")
            let malformed = client.exchange(Self.message(control: "C2").replacingOccurrences(of: "|97|", with: "|9\\X7|"))
            XCTAssertEqual(Self.code(malformed), "AE")
            XCTAssertEqual(malformed?.segments.first { $0.id == "ERR" }?.field(2).first.components.map { $0.first ?? "" }, ["OBX", "1", "5", "1", "1", "1"])
            XCTAssertEqual(malformed?.segments.first { $0.id == "ERR" }?.field(3).value, "102")
            let stranger = client.exchange(Self.message(control: "C3", facility: "ELSEWHERE"))
            XCTAssertEqual(Self.code(stranger), "AR")
            XCTAssertEqual(stranger?.segments.first { $0.id == "ERR" }?.field(2).value, "MSH")
            XCTAssertEqual(Self.code(client.exchange("not hl7 at all")), "AE")
        }
        let stored = await sink.stored
        XCTAssertEqual(stored.count, 1, "the duplicate was not stored twice")
        let message = try XCTUnwrap(stored.values.first)
        XCTAssertEqual(message.transport, .mllp)
        XCTAssertEqual(message.profile, ProfileID("hl7-pcd01-vitals"))
        XCTAssertEqual(message.sourceID, "mllp:ICU-EAST")
        XCTAssertEqual(message.deliveryKey, MLLPIntake.deliveryKey(facility: "ICU-EAST", controlID: "C1"))

        await sink.setFull(true)
        try await blocking {
            let client = try MLLPClient(port: port)
            let refused = client.exchange(Self.message(control: "C4"))
            XCTAssertEqual(Self.code(refused), "AR")
            XCTAssertEqual(refused?.segments.first { $0.id == "ERR" }?.field(3).value, "207")
        }
        let afterFull = await sink.stored.count
        XCTAssertEqual(afterFull, 1)
        await sink.setFull(false)
        try await blocking {
            XCTAssertEqual(Self.code(try MLLPClient(port: port).exchange(Self.message(control: "C4"))), "AA", "the resend after AR is taken")
        }
        let afterResend = await sink.stored.count
        XCTAssertEqual(afterResend, 2)
        XCTAssertTrue(listener.metrics.prometheusText.contains("fhir_edge_mllp_acks_total{code=\"AA\"} 3"), listener.metrics.prometheusText)
    }

    func testOversizedSlowIdleAndOverCapacityConnections() async throws {
        let sink = RecordingSink()
        let (listener, task) = try await start(sink: sink, maxMessageBytes: 600, idle: .milliseconds(300), frame: .milliseconds(300), connections: 2)
        defer { task.cancel() }
        let port = listener.localPort
        try await blocking {
            let client = try MLLPClient(port: port)
            let big = Self.message(control: "BIG") + String(repeating: "NTE|1||padding\r", count: 100)
            let ack = client.exchange(big)
            XCTAssertEqual(Self.code(ack), "AR")
            XCTAssertEqual(ack?.segments[1].field(2).value, "BIG", "the ACK still names the oversized message")
            XCTAssertEqual(Self.code(client.exchange(Self.message(control: "SMALL"))), "AA")

            // A frame that starts and never ends, and a connection that sends nothing: both closed.
            let slow = try MLLPClient(port: port)
            slow.send([0x0B] + Array("MSH|^~\\&|".utf8))
            XCTAssertNil(slow.receive())
            let idle = try MLLPClient(port: port)
            XCTAssertNil(idle.receive())
        }
        let text = listener.metrics.prometheusText
        XCTAssertTrue(text.contains("reason=\"frame-timeout\"} 1"), text)
        XCTAssertTrue(text.contains("reason=\"idle-timeout\"} "), text)
        XCTAssertFalse(text.contains("reason=\"idle-timeout\"} 0"), text)
        let stored = await sink.stored.count
        XCTAssertEqual(stored, 1)
    }

    func testConnectionCap() async throws {
        let sink = RecordingSink()
        let (listener, task) = try await start(sink: sink, connections: 1)
        defer { task.cancel() }
        let port = listener.localPort
        try await blocking {
            let held = try MLLPClient(port: port)
            XCTAssertEqual(Self.code(held.exchange(Self.message(control: "K1"))), "AA")
            let refused = try MLLPClient(port: port)
            XCTAssertNil(refused.exchange(Self.message(control: "K2")), "over the cap the connection is closed")
            XCTAssertEqual(Self.code(held.exchange(Self.message(control: "K3"))), "AA")
        }
        XCTAssertTrue(listener.metrics.prometheusText.contains("reason=\"over-capacity\"} 1"))
    }
}

/// Runs blocking socket work on its own thread, off the cooperative pool the listener's sink uses.
func blocking(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        Thread {
            do {
                try body()
                continuation.resume()
            } catch {
                continuation.resume(throwing: error)
            }
        }.start()
    }
}

final class LockedCounter: Sendable {
    private let value = Locked(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
