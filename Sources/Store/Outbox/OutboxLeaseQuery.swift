
/// The lease statement. It walks the unsent rows in id order through the covering partial index
/// `outbox_unsent` and stops once `:limit` rows qualify, so a lease costs the same with 2 000 or
/// 100 000 rows waiting: each candidate costs two point look-ups in `outbox_by_identity`, and
/// rows in backoff are skipped inside the index without reading the table. (Filtering on the
/// two states instead made SQLite merge both `outbox_by_state` ranges and sort every ready row
/// in a temporary B-tree before taking the batch.)
///
/// A candidate qualifies when it is ready (pending, or leased under an expired lease, and past
/// its `not_before`), its identity has no live lease, and no older ready-or-waiting row of its
/// identity exists: one row per identity per batch, in the order the identity's states arrived.
enum OutboxLeaseQuery {
    /// The ids of the next batch, oldest first. Arguments: `:now`, `:limit`.
    static let candidates = """
        SELECT o.id FROM outbox AS o INDEXED BY outbox_unsent
        WHERE o.state <> 'sent'
          AND (o.state = 'pending' OR o.lease_expires_at <= :now)
          AND (o.not_before IS NULL OR o.not_before <= :now)
          AND NOT EXISTS (SELECT 1 FROM outbox AS l WHERE l.identity_key = o.identity_key
                          AND l.state = 'leased' AND l.lease_expires_at > :now)
          AND NOT EXISTS (SELECT 1 FROM outbox AS m WHERE m.identity_key = o.identity_key
                          AND m.state IN ('pending', 'leased') AND m.id < o.id
                          AND (m.state = 'pending' OR m.lease_expires_at <= :now))
        ORDER BY o.id LIMIT :limit
        """

    /// Leases the candidates. Arguments: `:lease`, `:expires`, `:now`, `:limit`.
    static let lease = """
        UPDATE outbox SET state = 'leased', lease_id = :lease, lease_expires_at = :expires, attempts = attempts + 1
        WHERE id IN (\(candidates))
        RETURNING id, inbox_id, resource_type, resource_id, identity_key, body, attempts
        """
}

extension Store {
    /// SQLite's plan for the lease's candidate query, one `detail` line per step, as
    /// `EXPLAIN QUERY PLAN` prints it; tests check that no step sorts the backlog.
    package func outboxLeaseQueryPlan() async throws(StoreError) -> [String] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + OutboxLeaseQuery.candidates, arguments: ["now": 0, "limit": 1])
                    .map { $0["detail"] ?? "" }
            }
        } catch {
            throw StoreError(.database, "could not explain the outbox lease query", location: path, cause: error)
        }
    }
}
