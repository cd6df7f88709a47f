import FHIRConventions
import EdgeCore
import FHIRModel
import JSONQuery
import Store

/// A SampledData Observation whose window may already be on the server (a series that spans
/// several uploads) is merged into the stored one as MedTech does: read it, merge, and write it
/// back with `If-Match` so that a concurrent writer is never overwritten; a 412 starts over.
struct SampledDataMerge: Sendable {
    let client: FHIRClient
    let policy: RetryPolicy
    /// Read-merge-write rounds before the resource is kept for a later lease.
    static let attempts = 4

    static func applies(to resource: OutboxResource) -> Bool {
        resource.resourceType == "Observation" && resource.body.contains("\"valueSampledData\"")
    }

    func upload(_ item: OutboxItem, now: Timestamp) async -> (outcome: OutboxOutcome, requests: Int) {
        var requests = 0
        guard let json = try? JSONValue(parsing: item.resource.body), let new = try? Observation(json: json) else {
            return (.reject(errorType: "invalid-resource", errorMessage: "the stored Observation cannot be read back"), 0)
        }
        let path = "Observation/" + item.resource.resourceID
        for _ in 0..<Self.attempts {
            let current: UpstreamResponse
            do {
                requests += 1
                current = try await client.send(client.request("GET", path))
            } catch {
                return (keep(item, now: now, retryAfter: nil), requests)
            }
            var headers = HTTPHeaders()
            var body = item.resource.body
            switch current.status {
            case 404, 410:
                break
            case 200:
                guard let existingJSON = try? JSONValue(parsing: current.body), let existing = try? Observation(json: existingJSON) else {
                    return (keep(item, now: now, retryAfter: nil), requests)
                }
                let version = ServerVersion(location: nil, etag: current.headers["ETag"]).version ?? Self.versionId(existingJSON)
                let merged: Observation?
                do { merged = try ObservationMerge.merge(existing: existing, new: new) } catch {
                    return (.reject(errorType: "merge-" + error.type, errorMessage: error.message), requests)
                }
                guard let merged else {
                    // Nothing new: the server already holds these values.
                    return (.accept(serverID: existing.id ?? item.resource.resourceID, serverVersion: version), requests)
                }
                body = JSONWriter().string(merged.json)
                if let version { headers.set("If-Match", "W/\"\(version)\"") }
            default:
                return (outcome(current, item, now: now), requests)
            }
            let written: UpstreamResponse
            do {
                requests += 1
                written = try await client.send(client.request("PUT", path, body: Array(body.utf8), headers: headers))
            } catch {
                return (keep(item, now: now, retryAfter: nil), requests)
            }
            // Someone else wrote the Observation since it was read: read and merge again.
            if written.status == 412 { continue }
            return (outcome(written, item, now: now), requests)
        }
        return (keep(item, now: now, retryAfter: nil), requests)
    }

    private func outcome(_ response: UpstreamResponse, _ item: OutboxItem, now: Timestamp) -> OutboxOutcome {
        let body = Uploader.replyBody(response)
        let hasOutcome = if case .outcome = body { true } else { false }
        switch Classification.entry(status: response.status, hasOperationOutcome: hasOutcome) {
        case .accept:
            let version = ServerVersion(location: response.headers["Location"] ?? response.headers["Content-Location"],
                                        etag: response.headers["ETag"])
            return .accept(serverID: version.id ?? item.resource.resourceID, serverVersion: version.version)
        case .reject:
            return UploadStateMachine<SplitMix64>.rejection(status: response.status, body: body)
        case .keep:
            return keep(item, now: now, retryAfter: RetryAfter.parse(response.headers["Retry-After"], now: now))
        }
    }

    private func keep(_ item: OutboxItem, now: Timestamp, retryAfter: Duration?) -> OutboxOutcome {
        let wait = retryAfter.map { min($0, policy.retryAfterCap) } ?? UploadBackoff.ceiling(policy, failures: max(1, item.attempts))
        return .keep(retryAt: now.adding(milliseconds: wait.wholeMilliseconds))
    }

    static func versionId(_ json: JSONValue) -> String? {
        guard case .object(let object) = json, case .object(let meta)? = object["meta"], case .string(let id)? = meta["versionId"] else {
            return nil
        }
        return id
    }
}
