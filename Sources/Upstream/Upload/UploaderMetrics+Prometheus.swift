package import EdgeCore

extension UploaderMetrics {
    /// The uploader's families in the Prometheus text format (0.0.4), to append to `/metrics`.
    /// `now` turns the backoff deadline into the seconds still to wait.
    package func prometheusText(now: Timestamp) -> String {
        var text = PrometheusText()
        func family(_ name: String, _ type: String, _ help: String, _ samples: [([String: String], Double)]) {
            text.family(name, type, help)
            for (labels, value) in samples { text.sample(name, labels, value) }
        }
        family("fhir_edge_upstream_requests_total", "counter", "Requests sent to the upstream FHIR server.", [([:], Double(requests))])
        family("fhir_edge_upstream_retries_total", "counter", "Requests that re-sent resources sent before.", [([:], Double(retries))])
        family("fhir_edge_upstream_entries_total", "counter", "Resources settled after an upload, by outcome.", [
            (["outcome": "accepted"], Double(entriesAccepted)), (["outcome": "rejected"], Double(entriesRejected)),
            (["outcome": "kept"], Double(entriesKept)),
        ])
        family("fhir_edge_upstream_consecutive_failures", "gauge", "Failed upload requests in a row (0 when healthy).",
               [([:], Double(consecutiveFailures))])
        let backoff = backoffUntil.map { max(0, Double($0.millisecondsSinceEpoch - now.millisecondsSinceEpoch) / 1000) } ?? 0
        family("fhir_edge_upstream_backoff_seconds", "gauge", "Seconds until the uploader tries again after a failure.", [([:], backoff)])
        family("fhir_edge_upstream_pending_resources", "gauge", "Resources waiting in the outbox.", [([:], Double(outboxPending))])
        family("fhir_edge_upstream_identity_requests_total", "counter", "Calls that resolved Device and Patient identifiers.",
               [([:], Double(identityRequests))])
        family("fhir_edge_upstream_identity_cache_hits_total", "counter", "Identities answered from the stored map without a call.",
               [([:], Double(identityCacheHits))])
        family("fhir_edge_upstream_identity_not_found_total", "counter", "Lookups that found no Device or no patient (dead letters).",
               [([:], Double(identityNotFound))])
        family("fhir_edge_upstream_identity_invalidated_total", "counter", "Cached server ids dropped after a 404 or 410.",
               [([:], Double(identityInvalidated))])
        let age = oldestUnsentAge.map { Double($0.wholeMilliseconds) / 1000 } ?? 0
        family("fhir_edge_upstream_oldest_unsent_age_seconds", "gauge", "Age of the oldest message or resource not yet uploaded.", [([:], age)])
        return text.output
    }
}
