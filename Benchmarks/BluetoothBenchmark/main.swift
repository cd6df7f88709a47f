import Bluetooth
import BluetoothDecoding
import EdgeCore
import Foundation
import JSONQuery
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Bluetooth benchmark: the host stack and one device session per device against a controller
// (the rig, scripts/bench-bluetooth.sh): every device connected and subscribed, then for
// --seconds the notifications received, decoded and written as JSON device messages (the work
// a session does before the store), the process's CPU (user + system, as a share of one core)
// and its RSS.
//   BluetoothBenchmark --transport tcp:127.0.0.1:PORT --scenario FILE [--seconds 20] [--label NAME]

struct Options {
    var transport = ""
    var scenario = ""
    var seconds = 20.0
    var label = "run"

    init(_ arguments: [String]) throws {
        var index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw Usage(message: "\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--transport": transport = try value()
            case "--scenario": scenario = try value()
            case "--seconds": seconds = Double(try value()) ?? seconds
            case "--label": label = try value()
            default: throw Usage(message: "unknown argument \(arguments[index])")
            }
            index += 1
        }
        guard !transport.isEmpty, !scenario.isEmpty else { throw Usage(message: "--transport and --scenario are required") }
    }
}

struct Usage: Error, CustomStringConvertible {
    var message: String
    var description: String { message + "\nusage: BluetoothBenchmark --transport T --scenario FILE [--seconds S] [--label NAME]" }
}

/// The connectable devices of a rig scenario.
func connectableDevices(_ path: String) throws -> [BluetoothAddress] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let devices = try JSONValue(parsing: text)["devices"]?.arrayValue ?? []
    return devices.compactMap { device in
        guard device["kind"]?.stringValue != "bthome", let text = device["address"]?.stringValue else { return nil }
        return BluetoothAddress(text)
    }
}

/// Counters shared by every session's callbacks.
final class Tally: Sendable {
    struct Counts {
        var readings = 0
        var bytes = 0
        var subscribed = Set<String>()
        var failures = 0
        var decodeFailures = 0
    }

    let counts = Mutex(Counts())
}

func processCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
func memory() -> (rss: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

func run(_ options: Options) async throws {
    let devices = try connectableDevices(options.scenario)
    var configuration = HostConfiguration()
    configuration.handlesSecurity = true
    let host = try await BluetoothHost.open(try TransportAddress(parsing: options.transport), configuration: configuration)
    let sightings = AdvertSightings()
    let reports = try await host.startScan(ScanOptions(active: false, filterDuplicates: false))
    let bonds = BondStore(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-bench-\(getpid())").path)
    let tally = Tally()
    let clock: @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) }
    let started = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
        group.addTask {
            for await report in reports { await sightings.record(report, at: clock()) }
        }
        for (index, address) in devices.enumerated() {
            let session = DeviceSession(
                settings: DeviceSessionSettings(address: address, backoff: ReconnectBackoff(base: .milliseconds(200), cap: .seconds(2))),
                link: HostDeviceLink(host: host, address: address, sightings: sightings, bonds: bonds, pairing: .standard),
                seed: UInt64(index + 1), now: clock,
                deliver: { reading in
                    var bytes: [UInt8] = []
                    JSONWriter().write(reading.message, into: &bytes)
                    tally.counts.withLock { $0.readings += 1; $0.bytes += bytes.count }
                },
                observe: { observation in
                    tally.counts.withLock { counts in
                        switch observation {
                        case .up: counts.subscribed.insert(address.description)
                        case .failure(let failure):
                            if failure.stage == .decode { counts.decodeFailures += 1 } else { counts.failures += 1 }
                        case .disconnected: counts.subscribed.remove(address.description)
                        }
                    }
                })
            group.addTask { await session.run() }
        }
        // Connect everything first: the measured window has every device notifying.
        while tally.counts.withLock({ $0.subscribed.count }) < devices.count, ContinuousClock.now - started < .seconds(60) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let setup = ContinuousClock.now - started
        let subscribed = tally.counts.withLock { $0.subscribed.count }
        try? await Task.sleep(for: .seconds(1))
        let before = tally.counts.withLock { $0 }
        let cpuBefore = processCPUSeconds()
        let windowStart = ContinuousClock.now
        try? await Task.sleep(for: .milliseconds(Int64(options.seconds * 1000)))
        let wall = ContinuousClock.now - windowStart
        let cpu = processCPUSeconds() - cpuBefore
        let after = tally.counts.withLock { $0 }
        let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        let readings = after.readings - before.readings
        let (rss, peak) = memory()
        let statistics = await host.statistics
        print("""
            \(options.label): \(devices.count) devices, \(subscribed) subscribed after \(setup), window \(String(format: "%.1f", seconds)) s
              notifications/s   \(String(format: "%.1f", Double(readings) / seconds)) (\(readings) decoded and written as JSON, \(after.bytes - before.bytes) bytes)
              CPU               \(String(format: "%.1f", cpu / seconds * 100)) % of one core (\(String(format: "%.1f", cpu * 1e6 / Double(max(readings, 1)))) µs per notification)
              RSS               \(String(format: "%.1f", rss)) MiB (peak \(String(format: "%.1f", peak)) MiB)
              failures          \(after.failures) link, \(after.decodeFailures) decode; host dropped \(statistics.droppedValues) values, \(statistics.droppedACLFragments) ACL fragments
            """)
        group.cancelAll()
    }
    try? await host.stopScan()
    await host.close()
    try? FileManager.default.removeItem(atPath: bonds.path)
}

do {
    try await run(try Options(Array(CommandLine.arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("BluetoothBenchmark: \(error)\n".utf8))
    exit(1)
}
