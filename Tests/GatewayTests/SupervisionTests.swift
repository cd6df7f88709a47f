import Audit
import EdgeCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import Store
import XCTest
@testable import Gateway

/// The `Type=notify` side of the gateway: sd_notify datagrams on a real socket, the watchdog's
/// decision to ping only while the main loop beats, and journal-friendly log lines.
final class SupervisionTests: XCTestCase {
    // MARK: - Notification socket

    func testNotifierNeedsAnAbsoluteOrAbstractSocket() {
        XCTAssertNil(SystemdNotifier(environment: [:]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/socket"]))
        XCTAssertNil(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@"]))
        XCTAssertEqual(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"])?.socketPath, "/run/systemd/notify")
        XCTAssertEqual(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@abstract"])?.socketPath, "@abstract")
    }

    func testNotifierSendsOneDatagramPerStateToAPathSocket() throws {
        let directory = try TemporaryDirectory()
        let receiver = try DatagramReceiver(path: directory.path + "/notify")
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.path]))
        XCTAssertNil(notifier.send("READY=1\nSTATUS=Listening"))
        XCTAssertNil(notifier.send("STOPPING=1"))
        XCTAssertEqual(receiver.receive(), "READY=1\nSTATUS=Listening")
        XCTAssertEqual(receiver.receive(), "STOPPING=1")
    }

    func testNotifierReachesAnAbstractSocket() throws {
        let name = "@fhir-edge-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try DatagramReceiver(path: name)
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]))
        XCTAssertNil(notifier.send("WATCHDOG=1"))
        XCTAssertEqual(receiver.receive(), "WATCHDOG=1")
    }

    func testNotifierReportsASocketNobodyListensOn() throws {
        let directory = try TemporaryDirectory()
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": directory.path + "/absent"]))
        let error = try XCTUnwrap(notifier.send("READY=1"))
        XCTAssertTrue(error.description.contains("cannot send to NOTIFY_SOCKET"), error.description)
    }

    // MARK: - Watchdog

    func testWatchdogRequestFollowsSdWatchdogEnabled() throws {
        XCTAssertNil(WatchdogRequest(environment: [:], processID: 10))
        XCTAssertNil(WatchdogRequest(environment: ["WATCHDOG_USEC": "0"], processID: 10))
        XCTAssertNil(WatchdogRequest(environment: ["WATCHDOG_USEC": "soon"], processID: 10))
        XCTAssertNil(WatchdogRequest(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "11"], processID: 10),
                     "a watchdog meant for another process")
        let request = try XCTUnwrap(WatchdogRequest(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "10"], processID: 10))
        XCTAssertEqual(request.timeout, .seconds(30))
        XCTAssertEqual(request.pingInterval, .seconds(15))
        XCTAssertNotNil(WatchdogRequest(environment: ["WATCHDOG_USEC": "1000"], processID: 10))
    }

    func testGatePingsOnlyAfterABeat() {
        var gate = WatchdogGate(startingAt: 5)
        XCTAssertFalse(gate.shouldPing(count: 5), "no beat since the start")
        XCTAssertTrue(gate.shouldPing(count: 6))
        XCTAssertFalse(gate.shouldPing(count: 6), "a stuck loop")
        XCTAssertTrue(gate.shouldPing(count: 9))
    }

    /// Runs the service for `rounds` watchdog waits (the last one ends the loop, as a shutdown
    /// does) and returns the datagrams it sent.
    private func datagrams(rounds: Int, loopAnswers: Bool) async throws -> [String] {
        let directory = try TemporaryDirectory()
        let receiver = try DatagramReceiver(path: directory.path + "/notify")
        let notifier = try XCTUnwrap(SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.path]))
        let heartbeat = Heartbeat()
        let waits = Counter()
        let service = SystemdService(
            notifier: notifier, watchdog: WatchdogRequest(environment: ["WATCHDOG_USEC": "2000000"], processID: getpid()),
            heartbeat: heartbeat,
            // A healthy loop runs when poked; a stuck one never does.
            poke: { if loopAnswers { heartbeat.beat() } },
            sleep: { interval in
                XCTAssertEqual(interval, .seconds(1))
                if waits.increment() >= rounds { throw CancellationError() }
            },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await service.run()
        var received: [String] = []
        while let datagram = receiver.receive(waitingMilliseconds: 0) { received.append(datagram) }
        return received
    }

    func testWatchdogPingsWhileTheLoopBeatsAndSaysStoppingAtTheEnd() async throws {
        let sent = try await datagrams(rounds: 4, loopAnswers: true)
        XCTAssertEqual(sent, ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"])
    }

    func testWatchdogWithholdsPingsWhileTheLoopIsStuck() async throws {
        let sent = try await datagrams(rounds: 4, loopAnswers: false)
        XCTAssertEqual(sent, ["STOPPING=1"], "no WATCHDOG=1 lets systemd restart a stuck gateway")
    }

    func testMappingLoopBeatsWhenItDrains() async throws {
        let directory = try TemporaryDirectory()
        let time = Timestamp(millisecondsSinceEpoch: 1_764_000_000_000)
        let clock: @Sendable () -> Timestamp = { time }
        let store = try Store(path: directory.path + "/s.sqlite", policy: .standard, chain: AuditChain(), now: clock)
        defer { try? store.close() }
        let catalog = try DeviceProfileCatalog.load(directory: GatewayHTTPTests.profiles)
        let stage = MappingStage(store: store, catalog: catalog, monitor: GatewayMonitor(startedAt: time), batchSize: 10, now: clock)
        let before = stage.heartbeat.count
        await stage.drain()
        XCTAssertGreaterThan(stage.heartbeat.count, before, "an empty inbox is progress too")
    }

    // MARK: - Journal logs

    func testJournalLinesCarryPriorityAndNoTimestamp() {
        let line = JournalLogHandler.line(level: .warning, message: "Store key kept beside the store",
                                          metadata: ["edge.key": "file", "edge.advice": "configure"])
        XCTAssertEqual(line, "<4>Store key kept beside the store edge.advice=configure edge.key=file\n")
        XCTAssertEqual(JournalLogHandler.line(level: .info, message: "two\nlines", metadata: [:]), "<6>two\\nlines\n")
        let priorities = Logger.Level.allCases.map(JournalLogHandler.priority)
        XCTAssertEqual(priorities, [7, 7, 6, 5, 4, 3, 2], "trace debug info notice warning error critical")
    }

    func testHandlerWritesMergedMetadata() {
        let lines = Lines()
        var handler = JournalLogHandler(write: { lines.append($0) })
        handler[metadataKey: "edge.base"] = "1"
        handler.log(event: LogEvent(level: .error, message: "Mapping batch failed", metadata: ["edge.store.error": "full"],
                                    source: "Gateway", file: #file, function: #function, line: #line))
        XCTAssertEqual(lines.all, ["<3>Mapping batch failed edge.base=1 edge.store.error=full\n"])
    }

    func testJournalIsDetectedOnlyWhenJournalStreamNamesStandardError() {
        var status = stat()
        XCTAssertEqual(fstat(2, &status), 0)
        XCTAssertTrue(JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]))
        XCTAssertFalse(JournalLogHandler.standardErrorIsJournal(environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"]),
                       "a stream inherited from a parent, not our stderr")
        XCTAssertFalse(JournalLogHandler.standardErrorIsJournal(environment: [:]))
    }
}

/// A bound AF_UNIX datagram socket standing in for systemd's notification socket.
final class DatagramReceiver: @unchecked Sendable {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit {
        close(descriptor)
        if !path.hasPrefix("@") { unlink(path) }
    }

    /// The next datagram, waiting at most `waitingMilliseconds` (a bound, not an assertion on time).
    func receive(waitingMilliseconds: Int32 = 10_000) -> String? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, waitingMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func increment() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}

private final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
