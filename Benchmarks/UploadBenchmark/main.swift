// Drains an outbox of demo-vitals Observations to a FHIR server with the real Uploader and
// CurlTransport, and prints one JSON line of figures: Observations/s delivered, wall time,
// request bytes per Observation (counted at the transport), the time spent in HTTP exchanges,
// and the CPU time this process and the server process spent during the drain (to tell which
// side is the limit), with the time each side's threads were ready to run but waited for a CPU
// (on a loaded machine a CPU-starved server looks idle by CPU time alone). Finally checks
// that the server holds exactly the Observations sent (`_summary=count`).
//
// Driven by scripts/bench-upload.sh, which starts a fresh sekmet-fhir per run, runs the modes
// (single: one PUT per Observation, the baseline; batch and transaction Bundles of 100) and the
// large backlog, and prints the ratios.
//
// Usage: UploadBenchmark --url URL --server-pid PID --store DIR --mode single|batch|transaction
//                        [--count N] [--batch-size 100] [--profile device-profiles/demo-vitals] [--seed S]
//
// With `--lease-cost 2000,100000` (no server) it times the store's outbox lease with each backlog
// pending instead and prints one JSON line with the figures and the ratio of the last to the first.
import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store
import Synchronization
import Upstream

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("UploadBenchmark: \(message)\n".utf8))
    exit(1)
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
    guard name.hasPrefix("--"), let value = arguments.popFirst() else {
        fail("usage: UploadBenchmark --url URL --server-pid PID --store DIR --mode single|batch|transaction [--count N] [--batch-size N] [--profile DIR] [--seed S]")
    }
    options[String(name.dropFirst(2))] = value
}
if let sizes = options["lease-cost"] {
    guard let storeDirectory = options["store"] else { fail("--store is required") }
    let backlogs = sizes.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
    guard !backlogs.isEmpty else { fail("--lease-cost takes backlog sizes separated by commas, e.g. 2000,100000") }
    do {
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        let cost = LeaseCost(directory: storeDirectory,
                             backlog: try Backlog(profileDirectory: options["profile"] ?? "device-profiles/demo-vitals",
                                                  seed: UInt64(options["seed"] ?? "") ?? 2026),
                             batchSize: max(1, Int(options["batch-size"] ?? "") ?? 100), leases: 20)
        let figures = try await cost.measure(backlogs: backlogs)
        var line: JSONObject = ["leaseCost": .array(figures.map(JSONValue.object))]
        if case .double(let first)? = figures.first?["leaseMedianMs"], case .double(let last)? = figures.last?["leaseMedianMs"], first > 0 {
            line["leaseRatio"] = .double((last / first * 100).rounded() / 100)
        }
        print(JSONWriter().string(.object(line)))
        exit(0)
    } catch {
        fail("\(error)")
    }
}
guard let url = options["url"], let storeDirectory = options["store"] else { fail("--url and --store are required") }
guard let mode = UploadSettings.BundleType(rawValue: options["mode"] ?? "") else { fail("--mode must be single, batch or transaction") }
let serverPID = options["server-pid"].flatMap { Int32($0) }
let count = max(1, Int(options["count"] ?? "") ?? 10_000)
let batchSize = max(1, Int(options["batch-size"] ?? "") ?? 100)
let profile = options["profile"] ?? "device-profiles/demo-vitals"
let seed = UInt64(options["seed"] ?? "") ?? 2026

func seconds(since start: ContinuousClock.Instant) -> Double {
    let (whole, attoseconds) = (ContinuousClock.now - start).components
    return Double(whole) + Double(attoseconds) / 1e18
}

func rounded(_ value: Double, _ places: Double = 1000) -> JSONValue { .double((value * places).rounded() / places) }

func run() async throws {
    try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
    let store = try Store(path: storeDirectory + "/fhir-edge.sqlite", policy: .standard, chain: AuditChain(), now: Store.systemClock)
    defer { try? store.close() }

    let fillStart = ContinuousClock.now
    let backlog = try Backlog(profileDirectory: profile, seed: seed)
    let filled = try await backlog.fill(store, observations: count)
    let pending = try await store.statistics().outboxPending
    let fillSeconds = seconds(since: fillStart)

    let transport = CountingTransport(CurlTransport(options: CurlTransport.Options(connectTimeout: .seconds(5), totalTimeout: .seconds(120))))
    let client = FHIRClient(baseURL: url, transport: transport)
    // The daemon's settings, with a short first backoff so a rare 5xx under load costs little.
    let settings = UploadSettings(bundleType: mode, idempotency: .put, batchSize: batchSize,
                                  retry: RetryPolicy(base: .milliseconds(200), cap: .seconds(5), retryAfterCap: .seconds(5)))
    let uploader = Uploader(store: store, client: client, settings: settings, randomSeed: seed)

    let ownBefore = ProcessCPU.own()
    let ownScheduleBefore = ProcessCPU.scheduling(of: "self")
    let serverScheduleBefore = serverPID.flatMap { ProcessCPU.scheduling(of: String($0)) }
    let serverBefore = serverPID.flatMap(ProcessCPU.of(pid:))
    let start = ContinuousClock.now
    let drained = try await uploader.drain(timeout: .seconds(6 * 3600))
    let wall = seconds(since: start)
    let ownCPU = ProcessCPU.own() - ownBefore
    let serverAfter = serverPID.flatMap(ProcessCPU.of(pid:))
    let ownScheduleAfter = ProcessCPU.scheduling(of: "self")
    let serverScheduleAfter = serverPID.flatMap { ProcessCPU.scheduling(of: String($0)) }
    let serverCPU = serverBefore.flatMap { before in serverAfter.map { $0 - before } }

    let metrics = await uploader.metrics()
    guard drained, metrics.outboxPending == 0 else { fail("the outbox was not drained: \(metrics.outboxPending) left, last error \(metrics.lastError ?? "none")") }
    guard metrics.entriesRejected == 0 else { fail("\(metrics.entriesRejected) resources were rejected (see the dead letters in \(storeDirectory))") }

    // What the server holds, asked without the counting transport.
    let reader = FHIRClient(baseURL: url, transport: CurlTransport(options: CurlTransport.Options(totalTimeout: .seconds(300))))
    let reply = try await reader.send(reader.request("GET", "Observation?_summary=count"))
    guard reply.status == 200, case .int(let total)? = (try? JSONValue(parsing: reply.body))?["total"] else {
        fail("counting the server's Observations failed: HTTP \(reply.status)")
    }
    guard total == Int64(filled.observations) else { fail("the server holds \(total) Observations, \(filled.observations) were sent") }

    let requests = transport.requests.load(ordering: .relaxed)
    let requestBytes = transport.requestBytes.load(ordering: .relaxed)
    var figures: JSONObject = [
        "mode": .string(mode.rawValue), "batchSize": .int(Int64(mode == .single ? 1 : batchSize)),
        "observations": .int(Int64(filled.observations)), "resources": .int(pending),
        "fillSeconds": rounded(fillSeconds), "seconds": rounded(wall),
        "observationsPerSecond": .int(Int64((Double(filled.observations) / wall).rounded())),
        "requests": .int(Int64(requests)), "retries": .int(Int64(metrics.retries)),
        "requestBytes": .int(Int64(requestBytes)), "bodyBytes": .int(Int64(transport.bodyBytes.load(ordering: .relaxed))),
        "requestBytesPerObservation": rounded(Double(requestBytes) / Double(filled.observations), 10),
        "exchangeSeconds": rounded(Double(transport.exchangeNanoseconds.load(ordering: .relaxed)) / 1e9),
        "gatewayCPUSeconds": rounded(ownCPU), "gatewayCores": rounded(ownCPU / wall, 100),
        "serverObservations": .int(total),
    ]
    if let before = ownScheduleBefore, let after = ownScheduleAfter {
        figures["gatewayRunQueueSeconds"] = rounded(after.waiting - before.waiting)
    }
    if let before = serverScheduleBefore, let after = serverScheduleAfter {
        figures["serverRunQueueSeconds"] = rounded(after.waiting - before.waiting)
    }
    if let serverCPU {
        figures["serverCPUSeconds"] = rounded(serverCPU)
        figures["serverCores"] = rounded(serverCPU / wall, 100)
    }
    print(JSONWriter().string(.object(figures)))
}

do {
    try await run()
} catch {
    fail("\(error)")
}
