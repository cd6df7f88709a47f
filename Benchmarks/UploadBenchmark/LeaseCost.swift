import Audit
import EdgeCore
import Foundation
import JSONQuery
import Store

/// The store alone, no server: the time of one outbox lease (and the settle that follows it, as
/// the uploader does) with each backlog size pending, so that the lease's cost can be compared
/// across backlogs. A fresh store per size; the leases take the oldest rows, as a drain does.
struct LeaseCost {
    let directory: String
    let backlog: Backlog
    let batchSize: Int
    /// Leases timed per backlog (fewer when the backlog holds fewer full batches); the median is reported.
    let leases: Int

    /// One figure per backlog size: median and worst milliseconds per lease and per settle.
    func measure(backlogs: [Int]) async throws -> [JSONObject] {
        var figures: [JSONObject] = []
        for observations in backlogs {
            let path = directory + "/lease-\(observations).sqlite"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            let store = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock)
            defer { try? store.close() }
            _ = try await backlog.fill(store, observations: observations)
            let pending = try await store.statistics().outboxPending
            // Only full batches: a small backlog is timed over fewer leases.
            let rounds = min(leases, Int(pending) / batchSize)
            guard rounds > 0 else { throw BenchmarkFailure("a backlog of \(pending) is smaller than one lease of \(batchSize)") }
            var leaseMilliseconds: [Double] = []
            var settleMilliseconds: [Double] = []
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                let lease = try await store.leaseOutbox(limit: batchSize, for: .seconds(60))
                leaseMilliseconds.append(milliseconds(since: start))
                guard lease.items.count == batchSize else {
                    throw BenchmarkFailure("a lease took \(lease.items.count) rows of \(pending) pending, expected \(batchSize)")
                }
                let settleStart = ContinuousClock.now
                try await store.settle(lease: lease.id, lease.items.map { OutboxSettlement($0.id, .accept(serverID: nil, serverVersion: nil)) })
                settleMilliseconds.append(milliseconds(since: settleStart))
            }
            figures.append([
                "observations": .int(Int64(observations)), "pending": .int(pending), "batchSize": .int(Int64(batchSize)),
                "leases": .int(Int64(rounds)),
                "leaseMedianMs": rounded(median(leaseMilliseconds)), "leaseMaxMs": rounded(leaseMilliseconds.max() ?? 0),
                "settleMedianMs": rounded(median(settleMilliseconds)),
            ])
        }
        return figures
    }

    private func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let (whole, attoseconds) = (ContinuousClock.now - start).components
        return Double(whole) * 1000 + Double(attoseconds) / 1e15
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private func rounded(_ value: Double) -> JSONValue { .double((value * 1000).rounded() / 1000) }
}
