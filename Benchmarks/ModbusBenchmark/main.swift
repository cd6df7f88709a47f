// Modbus polling benchmark against a local peer (scripts/bench-modbus.sh starts Tests/peers/modbus_peer.py):
//   plan      one device of 150 registers (holding 100–199, input 1–50) polled back to back on one
//             link, with request planning on (merged requests) and off (one request per point):
//             polls/s, requests/s, registers/s
//   fleet     50 devices of 20 points each, one TCP connection each, polled every second for
//             --seconds: polls made, late polls, CPU seconds and cores used, peak RSS
// Prints one JSON line per run.
import EdgeCore
import Foundation
import JSONQuery
import Modbus
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var host = "127.0.0.1"
    var port = 0
    var seconds = 20
    var planSeconds = 5
    var devices = 50

    init() {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--tcp":
                let text = iterator.next() ?? ""
                let parts = text.split(separator: ":")
                host = parts.first.map(String.init) ?? host
                port = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            case "--seconds": seconds = Int(iterator.next() ?? "") ?? seconds
            case "--plan-seconds": planSeconds = Int(iterator.next() ?? "") ?? planSeconds
            case "--devices": devices = Int(iterator.next() ?? "") ?? devices
            default:
                FileHandle.standardError.write(Data("usage: ModbusBenchmark --tcp HOST:PORT [--seconds N] [--plan-seconds N] [--devices N]\n".utf8))
                exit(2)
            }
        }
        guard port > 0 else {
            FileHandle.standardError.write(Data("ModbusBenchmark: --tcp HOST:PORT is required\n".utf8))
            exit(2)
        }
    }
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Peak resident set size in MiB (Linux reports ru_maxrss in KiB).
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func printLine(_ object: JSONObject) {
    var bytes: [UInt8] = []
    JSONWriter().write(.object(object), into: &bytes)
    print(String(decoding: bytes, as: UTF8.self))
}

func round(_ value: Double, _ places: Double = 1) -> Double {
    let power = Foundation.pow(10, places)
    return (value * power).rounded() / power
}

let arguments = Arguments()
let endpoint = ModbusEndpoint.tcp(host: arguments.host, port: arguments.port)

/// 100 holding registers 100–199 and 50 input registers 1–50 of the peer's unit 1.
func planPoints() -> [RegisterPoint] {
    (0..<100).map { RegisterPoint(name: "h\($0)", table: .holding, address: UInt16(100 + $0), type: .uint16) }
        + (0..<50).map { RegisterPoint(name: "i\($0)", table: .input, address: UInt16(1 + $0), type: .int16, scale: 0.1) }
}

for merges in [true, false] {
    let device = ModbusDevice(
        name: "bench", profile: ProfileID("bench"), points: planPoints(),
        settings: ModbusPollSettings(unit: 1, timeout: .seconds(2), mergesRequests: merges))
    let link = LibmodbusLink(endpoint)
    let poller = ModbusLinkPoller(link: link, devices: [], clock: ContinuousClock(), wallClock: { Timestamp(millisecondsSinceEpoch: 0) }, onPoll: { _ in })
    _ = await poller.poll(device)  // connect outside the measurement
    let cpuStart = cpuSeconds()
    let start = ContinuousClock.now
    let end = start + .seconds(arguments.planSeconds)
    var polls = 0, requests = 0, registers = 0, failed = 0
    while ContinuousClock.now < end {
        let result = await poller.poll(device)
        polls += 1
        requests += result.requests
        registers += result.registers
        if !result.isComplete { failed += 1 }
    }
    let elapsed = seconds(ContinuousClock.now - start)
    let cpu = cpuSeconds() - cpuStart
    await link.close()
    printLine([
        "run": .string(merges ? "plan-merged" : "plan-per-point"), "points": .int(Int64(device.points.count)),
        "requestsPerPoll": .int(Int64(device.plan.reads.count)), "seconds": .double(round(elapsed, 2)),
        "polls": .int(Int64(polls)), "failedPolls": .int(Int64(failed)), "pollsPerSecond": .double(round(Double(polls) / elapsed)),
        "requestsPerSecond": .double(round(Double(requests) / elapsed)), "registersPerSecond": .double(round(Double(registers) / elapsed, 0)),
        "cpuSeconds": .double(round(cpu, 2)),
    ])
}

// The fleet: N devices, one connection each, every second.
let pollCount = Mutex(0)
let latePolls = Mutex(0)
let failedPolls = Mutex(0)
let fleetStart = ContinuousClock.now
/// 10 holding registers every other address from 100 (merged across the gaps) and 10 input registers.
func fleetPoints() -> [RegisterPoint] {
    var points: [RegisterPoint] = []
    for index in 0..<10 {
        points.append(RegisterPoint(name: "h\(index)", table: .holding, address: UInt16(100 + index * 2), type: .uint16))
        points.append(RegisterPoint(name: "i\(index)", table: .input, address: UInt16(1 + index), type: .int16, scale: 0.1))
    }
    return points
}

let pollers = (0..<arguments.devices).map { (index: Int) -> ModbusLinkPoller<ContinuousClock> in
    let points = fleetPoints()
    let device = ModbusDevice(
        name: "device-\(index)", profile: ProfileID("bench"), points: points,
        settings: ModbusPollSettings(unit: 1, interval: .seconds(1), timeout: .seconds(1), maxGap: 4))
    return ModbusLinkPoller(
        link: LibmodbusLink(endpoint), devices: [device], clock: ContinuousClock(), wallClock: { Timestamp(millisecondsSinceEpoch: 0) },
        onPoll: { result in
            // Only polls whose slot falls inside the measured window (the cancellation races the last one).
            let startedAt = ContinuousClock.now - result.elapsed - fleetStart
            guard startedAt < .seconds(arguments.seconds) - .milliseconds(500) else { return }
            pollCount.withLock { $0 += 1 }
            if !result.isComplete { failedPolls.withLock { $0 += 1 } }
            // Started more than 100 ms after its slot on the one-second grid.
            let intoSecond = startedAt - .seconds(startedAt.components.seconds)
            if intoSecond > .milliseconds(100) { latePolls.withLock { $0 += 1 } }
        })
}
let fleetCPU = cpuSeconds()
await withTaskGroup(of: Void.self) { group in
    for poller in pollers { group.addTask { await poller.run() } }
    try? await Task.sleep(for: .seconds(arguments.seconds))
    group.cancelAll()
}
let fleetElapsed = Double(arguments.seconds)
let fleetCPUSeconds = cpuSeconds() - fleetCPU
printLine([
    "run": "fleet", "devices": .int(Int64(arguments.devices)), "interval": "1s", "seconds": .int(Int64(arguments.seconds)),
    "polls": .int(Int64(pollCount.withLock { $0 })), "expectedPolls": .int(Int64(arguments.devices * arguments.seconds)),
    "latePolls": .int(Int64(latePolls.withLock { $0 })), "failedPolls": .int(Int64(failedPolls.withLock { $0 })),
    "cpuSeconds": .double(round(fleetCPUSeconds, 2)), "cores": .double(round(fleetCPUSeconds / fleetElapsed, 3)),
    "peakRSSMiB": .double(round(peakRSSMiB())),
])
