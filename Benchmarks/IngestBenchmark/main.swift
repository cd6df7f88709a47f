// Durable ingest, three ways, each committing one transaction per batch of 100 messages with the
// store's durability setting (WAL, synchronous = FULL), and printing one JSON line of figures:
//
//   http URL     POST /ingest/demo-vitals to a running daemon from several concurrent clients
//                (each a keep-alive connection), counting only 202s
//   store DIR    Store.append through the in-process API (journal entry, counters, byte triggers)
//                from CLIENTS concurrent callers; those arriving while another commits share
//                its successor's transaction (group commit): reports transactions and appends
//   sqlite DIR   the baseline: the same rows into the same inbox table with the sqlite3 C API,
//                one caller, one transaction per batch
//
// Each line carries the process's CPU time (user + system, getrusage) per message, in µs.
// Usage: IngestBenchmark http|store|sqlite TARGET [MESSAGES] [CLIENTS]
// Driven by scripts/bench-ingest.sh, which starts the daemon, reads its RSS and prints ratios.
import Audit
import EdgeCore
import Foundation
import Gateway
import CSQLite
import JSONQuery
import Simulator
import Store

let arguments = CommandLine.arguments
guard arguments.count >= 3, ["http", "store", "sqlite"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: IngestBenchmark http|store|sqlite URL|DIR [MESSAGES] [CLIENTS]\n".utf8))
    exit(2)
}
let mode = arguments[1]
let target = arguments[2]
let total = arguments.count > 3 ? max(100, Int(arguments[3]) ?? 100_000) : 100_000
let clients = arguments.count > 4 ? max(1, Int(arguments[4]) ?? 4) : 4
let batchSize = 100
let batches = total / batchSize

/// The batches, generated before any timing: demo-vitals readings from 50 monitors, one second
/// apart, so every message is distinct (and maps to distinct Observations in the daemon).
func message(_ index: Int) -> String {
    let device = index % 50
    let second = index / 50
    let time = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000 + Int64(second) * 1000).iso8601
    return #"{"deviceId":"monitor-\#(device)","patientId":"patient-\#(device)","measuredAt":"\#(time)","heartRate":\#(55 + index % 60)}"#
}

let payloads: [[[UInt8]]] = (0..<batches).map { batch in
    (0..<batchSize).map { Array(message(batch * batchSize + $0).utf8) }
}

/// Where a measurement began: the clock and this process's CPU time.
struct Interval {
    let start = ContinuousClock.now
    let cpu = cpuSeconds()

    var seconds: Double {
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// User plus system CPU time of this process so far, in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func report(_ interval: Interval, _ extra: JSONObject = JSONObject()) {
    let (seconds, cpu) = (interval.seconds, cpuSeconds() - interval.cpu)
    var figures: JSONObject = [
        "cpuMicrosecondsPerMessage": .double((cpu * 1e6 / Double(batches * batchSize) * 100).rounded() / 100),
        "mode": .string(mode), "messages": .int(Int64(batches * batchSize)), "batch": .int(Int64(batchSize)),
        "seconds": .double((seconds * 1000).rounded() / 1000),
        "messagesPerSecond": .int(Int64((Double(batches * batchSize) / seconds).rounded())),
    ]
    for (key, value) in extra.members { figures[key] = value }
    print(JSONWriter().string(.object(figures)))
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("IngestBenchmark: \(message)\n".utf8))
    exit(1)
}

// MARK: HTTP

func runHTTP() async {
    guard let (host, port) = Simulation.endpoint(target) else { fail("expected a URL like http://127.0.0.1:8088") }
    let bodies: [[UInt8]] = payloads.map { batch in
        var body: [UInt8] = [UInt8(ascii: "[")]
        for (index, message) in batch.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += message
        }
        body.append(UInt8(ascii: "]"))
        return body
    }
    let interval = Interval()
    let results = await withTaskGroup(of: (accepted: Int, other: Int).self) { group in
        for client in 0..<clients {
            group.addTask {
                let connection = LoopbackHTTPClient(host: host, port: port, timeoutSeconds: 30)
                var accepted = 0, other = 0
                var index = client
                while index < bodies.count {
                    let reply = try? await connection.send(
                        "POST", "/ingest/demo-vitals", headers: [("Content-Type", "application/json")], body: bodies[index])
                    if reply?.status == 202 { accepted += batchSize } else { other += batchSize }
                    index += clients
                }
                return (accepted, other)
            }
        }
        var sum = (accepted: 0, other: 0)
        for await result in group { sum.accepted += result.accepted; sum.other += result.other }
        return sum
    }
    if results.other > 0 { fail("\(results.other) messages were not accepted") }
    report(interval, ["clients": .int(Int64(clients))])
}

// MARK: In-process store

func runStore() async {
    let path = target + "/store.sqlite"
    let store: Store
    do {
        // Encrypted, as the gateway runs it; FHIR_EDGE_BENCH_STORE_CLEAR=1 measures the store in clear.
        let clear = ProcessInfo.processInfo.environment["FHIR_EDGE_BENCH_STORE_CLEAR"] != nil
        let key = try KeyEncryptionKey(material: Array(String(repeating: "5a", count: 32).utf8), source: "benchmark key")
        store = try Store(path: path, policy: StorePolicy(maxBytes: 1 << 40), chain: AuditChain(), now: Store.systemClock,
                          encryption: clear ? nil : StoreEncryption(keyEncryptionKey: key))
    } catch {
        fail("\(error)")
    }
    let receivedAt = Store.systemClock()
    let batchesOfMessages = payloads.map { batch in
        batch.map { payload in
            InboxMessage(profile: ProfileID("demo-vitals"), transport: .http, sourceID: "bench", deviceID: "monitor",
                         receivedAt: receivedAt, payload: payload)
        }
    }
    let interval = Interval()
    await withTaskGroup(of: Void.self) { group in
        for client in 0..<clients {
            group.addTask {
                var index = client
                while index < batchesOfMessages.count {
                    do {
                        _ = try await store.append(batchesOfMessages[index], actor: "http:bench")
                    } catch {
                        fail("\(error)")
                    }
                    index += clients
                }
            }
        }
    }
    let commits = store.appendCommits
    try? store.close()
    report(interval, ["clients": .int(Int64(clients)), "transactions": .int(Int64(commits.transactions)), "appends": .int(Int64(commits.appends))])
}

// MARK: Raw SQLite baseline

func runSQLite() {
    let path = target + "/baseline.sqlite"
    var handle: OpaquePointer?
    guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
          let db = handle else { fail("cannot open \(path)") }
    func exec(_ sql: String) {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { fail("\(sql): \(String(cString: sqlite3_errmsg(db)))") }
    }
    // The store's settings and its inbox table, index included.
    exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000")
    exec("""
        CREATE TABLE IF NOT EXISTS inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, profile TEXT NOT NULL, transport TEXT NOT NULL, source_id TEXT NOT NULL,
            device_id TEXT, received_at INTEGER NOT NULL, device_time INTEGER, payload BLOB NOT NULL, size INTEGER NOT NULL,
            state TEXT NOT NULL, replay_count INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS inbox_by_state ON inbox(state, id);
        """)
    var statement: OpaquePointer?
    let sql = """
        INSERT INTO inbox(profile, transport, source_id, device_id, received_at, device_time, payload, size, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')
        """
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let insert = statement else { fail("prepare failed") }
    let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    let receivedAt = Store.systemClock().millisecondsSinceEpoch
    let interval = Interval()
    for batch in payloads {
        exec("BEGIN IMMEDIATE")
        for payload in batch {
            sqlite3_bind_text(insert, 1, "demo-vitals", -1, transient)
            sqlite3_bind_text(insert, 2, "http", -1, transient)
            sqlite3_bind_text(insert, 3, "bench", -1, transient)
            sqlite3_bind_text(insert, 4, "monitor", -1, transient)
            sqlite3_bind_int64(insert, 5, receivedAt)
            sqlite3_bind_null(insert, 6)
            payload.withUnsafeBytes { bytes in
                _ = sqlite3_bind_blob(insert, 7, bytes.baseAddress, Int32(bytes.count), transient)
            }
            sqlite3_bind_int64(insert, 8, Int64(payload.count))
            guard sqlite3_step(insert) == SQLITE_DONE else { fail("insert: \(String(cString: sqlite3_errmsg(db)))") }
            sqlite3_reset(insert)
        }
        exec("COMMIT")
    }
    sqlite3_finalize(insert)
    sqlite3_close(db)
    report(interval)
}

switch mode {
case "http": await runHTTP()
case "store": await runStore()
default: runSQLite()
}
