/// How resources travel to one upstream server.
package struct UploadSettings: Sendable, Equatable {
    /// `transaction`: all entries of a bundle commit together (a rejected bundle is bisected to
    /// find the offending entry); `batch`: the server settles each entry on its own; `single`:
    /// one request per resource.
    package enum BundleType: String, Sendable, CaseIterable {
        case transaction, batch
        /// No bundle: one REST call per resource (servers without batch support, and the
        /// baseline bundles are measured against).
        case single
    }

    /// How a re-sent resource (lost reply, crash, retry) avoids becoming a duplicate.
    package enum Idempotency: String, Sendable, CaseIterable {
        /// `PUT <Type>/<deterministic id>` (the MedTech scheme): re-sending overwrites with the same content.
        case put
        /// `POST <Type>` with `ifNoneExist: identifier=system|value` (the HL7 PHD IG scheme).
        case conditionalCreate = "conditional-create"
    }

    package var bundleType: BundleType
    package var idempotency: Idempotency
    /// Entries per bundle.
    package var batchSize: Int
    /// How long a partly filled batch may wait for more resources before it is sent.
    package var linger: Duration
    /// Wait between polls when the outbox is empty.
    package var idlePoll: Duration
    /// How long a leased batch belongs to this uploader; must exceed the transport's total timeout
    /// so that a slow reply is never raced by a second lease of the same rows.
    package var leaseDuration: Duration
    package var retry: RetryPolicy
    /// Read, merge and PUT with `If-Match` for SampledData Observations, as MedTech does for
    /// series that span several uploads.
    package var mergeSampledData: Bool
    /// How long a Device or Patient id the server gave is used before it is read again (a
    /// Device may have moved to another patient, or been deleted). MedTech caches for 2 h.
    package var identityRefresh: Duration

    package init(bundleType: BundleType = .batch, idempotency: Idempotency = .put, batchSize: Int = 100,
                linger: Duration = .milliseconds(200), idlePoll: Duration = .seconds(1), leaseDuration: Duration = .seconds(300),
                retry: RetryPolicy = RetryPolicy(), mergeSampledData: Bool = true, identityRefresh: Duration = .seconds(3600)) {
        self.bundleType = bundleType
        self.idempotency = idempotency
        self.batchSize = max(1, batchSize)
        self.linger = linger
        self.idlePoll = idlePoll
        self.leaseDuration = leaseDuration
        self.retry = retry
        self.mergeSampledData = mergeSampledData
        self.identityRefresh = identityRefresh
    }
}

/// Exponential backoff with full jitter: the n-th consecutive failure waits a uniformly random
/// time in `[0, min(cap, base * 2^(n-1))]`, or what the server asked for with Retry-After
/// (itself capped by `retryAfterCap`).
package struct RetryPolicy: Sendable, Equatable {
    package var base: Duration
    package var cap: Duration
    package var retryAfterCap: Duration

    package init(base: Duration = .seconds(1), cap: Duration = .seconds(300), retryAfterCap: Duration = .seconds(3600)) {
        self.base = base
        self.cap = cap
        self.retryAfterCap = retryAfterCap
    }
}
