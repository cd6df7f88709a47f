package import EdgeCore
package import JSONQuery
package import Store

/// What an export says about its times: the clock's state now, the last synchronisation state
/// the journal recorded (`clock.sync`) and since when, and the clock jumps (`clock.jumped`) the
/// journal saw since the oldest resource it carries was queued. `trust` sums it up: `synchronised`
/// (synchronised now, and no jump since), `unsynchronised` (with `unsynchronisedSince` when the
/// journal saw the change) or `unknown`; `jumps` above 0 means times across a jump are not comparable.
package enum KitClockReport {
    package static func make(reader: StoreReader, since: Timestamp?, currentState: String) async throws(StoreError) -> JSONObject {
        var after: Int64 = 0
        var jumps: Int64 = 0
        var largest: Int64 = 0
        var lastSync: (state: String, at: Timestamp)?
        var unsynchronisedSince: Timestamp?
        while true {
            let page = try await reader.journal(after: after, limit: 1000)
            guard let last = page.last else { break }
            for record in page {
                let entry = record.entry
                if entry.kind == .clockSync, let state = entry.details["state"]?.stringValue {
                    if state != "synchronised", lastSync?.state == "synchronised" || lastSync == nil { unsynchronisedSince = entry.time }
                    if state == "synchronised" { unsynchronisedSince = nil }
                    lastSync = (state, entry.time)
                } else if entry.kind == .clockJumped, since.map({ entry.time >= $0 }) ?? true {
                    jumps += 1
                    if case .int(let by)? = entry.details["byMilliseconds"] { largest = max(largest, abs(by)) }
                }
            }
            after = last.entry.sequence
        }
        var report: JSONObject = ["stateAtExport": .string(currentState), "jumps": .int(jumps)]
        if jumps > 0 { report["largestJumpMilliseconds"] = .int(largest) }
        if let lastSync {
            report["lastRecordedState"] = .string(lastSync.state)
            report["lastRecordedAt"] = .string(lastSync.at.iso8601)
        }
        if let unsynchronisedSince { report["unsynchronisedSince"] = .string(unsynchronisedSince.iso8601) }
        let trust: String
        if currentState == "synchronised" && jumps == 0 && unsynchronisedSince == nil {
            trust = "synchronised"
        } else if currentState == "unsynchronised" || unsynchronisedSince != nil {
            trust = "unsynchronised"
        } else if currentState == "synchronised" {
            trust = "synchronised-with-jumps"
        } else {
            trust = "unknown"
        }
        report["trust"] = .string(trust)
        return report
    }
}
