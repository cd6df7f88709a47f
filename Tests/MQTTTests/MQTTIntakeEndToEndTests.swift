import EdgeCore
import Foundation
import TestSupport
import XCTest

/// `fhir-edge demo --mqtt` against a real Mosquitto broker with paho-mqtt publishing QoS 1:
/// every published message is stored exactly once, whether the gateway is killed mid-stream or
/// the broker restarts under load.
final class MQTTIntakeEndToEndTests: XCTestCase {
    private func demo(broker: MosquittoBroker, data: URL) -> DaemonProcess {
        DaemonProcess(arguments: ["demo", "--data-dir", data.path, "--listen", "127.0.0.1:0", "--mqtt", broker.url], dataDirectory: data)
    }

    /// Starts the daemon and waits until it has subscribed `expected` times in all.
    private func start(_ daemon: DaemonProcess, subscriptions expected: Int) throws {
        try daemon.start()
        let subscribed = MQTTStore.eventually(timeout: 30) { MQTTStore.subscriptions(in: daemon.log) >= expected }
        XCTAssertTrue(subscribed, "the daemon did not subscribe: \(daemon.log.suffix(2000))")
    }

    /// Waits until `count` messages are stored and mapped, stops the daemon, and checks that each
    /// published marker is in the store exactly once.
    private func assertStoredExactlyOnce(
        run: String, count: Int, daemon: DaemonProcess, data: URL, file: StaticString = #filePath, line: UInt = #line
    ) async throws -> [String: Int] {
        let received = try MQTTStore.eventually(timeout: 90) { (try MQTTStore.count("received", in: data) ?? 0) >= Int64(count) }
        let arrived = try MQTTStore.count("received", in: data) ?? -1
        XCTAssertTrue(received, "not every message arrived: \(arrived) of \(count)", file: file, line: line)
        _ = try MQTTStore.eventually(timeout: 30) { try MQTTStore.count("inbox", in: data) == 0 }
        XCTAssertEqual(daemon.stop(), 0, "graceful stop failed: \(daemon.log.suffix(2000))", file: file, line: line)
        let found = try await MQTTStore.markers(dataDirectory: data, storePath: daemon.storePath)
        let missing = (0..<count).map { Publisher.marker(run: run, $0) }.filter { found[$0] == nil }
        let repeated = found.filter { $0.value > 1 }
        XCTAssertEqual(missing, [], "published messages not stored", file: file, line: line)
        XCTAssertEqual(repeated.count, 0, "messages stored more than once: \(repeated.keys.sorted().prefix(10))", file: file, line: line)
        XCTAssertEqual(found.values.reduce(0, +), count, "stored messages other than the published ones", file: file, line: line)
        return found
    }

    /// A broker and `demo --mqtt` on it, subscribed, with their folders under `directory`.
    func started(in directory: URL) throws -> (MosquittoBroker, DaemonProcess, URL) {
        let brokerDirectory = directory.appendingPathComponent("broker"), data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: brokerDirectory, withIntermediateDirectories: true)
        let broker = try MosquittoBroker(directory: brokerDirectory)
        let daemon = demo(broker: broker, data: data)
        try start(daemon, subscriptions: 1)
        return (broker, daemon, data)
    }

    func testEveryPublishedMessageIsStoredOnceAcrossGatewaySIGKILLs() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["FHIR_EDGE_CRASH_SEED"] ?? "") ?? 20_261_206
        var random = SplitMix64(seed: seed)
        let directory = try temporaryDirectory("mqtt-kill")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (broker, daemon, data) = try started(in: directory)

        let count = 800, kills = 4
        let publisher = try Publisher.start(port: broker.port, count: count, run: "k", interval: 0.004, directory: directory)
        for kill in 0..<kills {
            // Between 150 ms and 700 ms of traffic, so kills land in deliveries and commits.
            usleep(UInt32.random(in: 150_000...700_000, using: &random))
            daemon.killNow()
            try start(daemon, subscriptions: kill + 2)
        }
        XCTAssertEqual(publisher.finish(timeout: 120), 0, "the publisher failed: \(publisher.logText)")
        let found = try await assertStoredExactlyOnce(run: "k", count: count, daemon: daemon, data: data)
        let export = try CommandRunner.run(["export", "--data-dir", data.path, "--state", "all"], timeout: 60)
        XCTAssertEqual(export.status, 0, export.stderr)
        let observations = export.stdoutText.split(separator: "\n").filter { $0.contains(#""resourceType":"Observation""#) }.count
        XCTAssertGreaterThanOrEqual(observations, count, "each demo-vitals message maps to Observations")
        print("mqtt gateway kills: \(kills) SIGKILLs, \(count) published, \(found.count) stored once, \(observations) Observations exported (seed \(seed))")
    }

    func testTheBrokerRestartedUnderLoadLosesNothing() async throws {
        let directory = try temporaryDirectory("mqtt-broker-restart")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (broker, daemon, data) = try started(in: directory)

        let count = 600, restarts = 2
        let publisher = try Publisher.start(port: broker.port, count: count, run: "b", interval: 0.005, directory: directory)
        for _ in 0..<restarts {
            usleep(800_000)
            try broker.restart(down: 0.4)
        }
        XCTAssertEqual(publisher.finish(timeout: 120), 0, "the publisher failed: \(publisher.logText)")
        let found = try await assertStoredExactlyOnce(run: "b", count: count, daemon: daemon, data: data)
        XCTAssertGreaterThanOrEqual(MQTTStore.subscriptions(in: daemon.log), restarts + 1, "the gateway reconnected after each restart")
        print("mqtt broker restarts: \(restarts) restarts under load, \(count) published, \(found.count) stored once")
    }
}
