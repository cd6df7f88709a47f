package import Store

/// What the uploader needs of the store, and nothing more: lease a batch, settle it (accepted,
/// rejected into the dead letters, kept for a retry), the backlog's size, the journal, and the
/// server ids of Devices and Patients. The uploader holds this instead of the concrete `Store`,
/// so what it may do to the buffer is written down in one place.
package protocol OutboxStore: Sendable {
    func leaseOutbox(limit: Int, for duration: Duration) async throws(StoreError) -> OutboxLease
    func settle(lease: Int64, _ settlements: [OutboxSettlement], actor: String) async throws(StoreError) -> SettleReport
    func outboxBacklog() async throws(StoreError) -> OutboxBacklog
    func journal(_ events: [JournalEvent]) async throws(StoreError)
    func serverIdentities() async throws(StoreError) -> [ServerIdentity]
    func recordServerIdentities(_ identities: [ServerIdentity], journal events: [JournalEvent]) async throws(StoreError)
}

/// How far behind the upload is.
package struct OutboxBacklog: Sendable, Equatable {
    /// Resources waiting to be sent (pending or leased).
    package var pending: Int64
    /// Age of the oldest of them, nil when there is none.
    package var oldestUnsentAge: Duration?

    package init(pending: Int64, oldestUnsentAge: Duration?) {
        self.pending = pending
        self.oldestUnsentAge = oldestUnsentAge
    }
}

// The one place Upstream names the concrete store: its conformance, beside the protocol it meets.
extension Store: OutboxStore {
    package func outboxBacklog() async throws(StoreError) -> OutboxBacklog {
        let statistics = try await statistics()
        return OutboxBacklog(pending: statistics.outboxPending, oldestUnsentAge: statistics.oldestUnsentAge)
    }
}
