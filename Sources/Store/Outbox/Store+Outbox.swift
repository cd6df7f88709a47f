import EdgeCore
import FoundationEssentials
import JSONQuery

extension Store {
    /// Leases up to `limit` resources for upload, oldest first: at most one row per identity,
    /// and none whose identity is already in flight under another unexpired lease. Rows whose
    /// lease expired are leased again. The cost depends on the batch, not on the backlog
    /// (`OutboxLeaseQuery`).
    package func leaseOutbox(limit: Int, for duration: Duration) async throws(StoreError) -> OutboxLease {
        let time = now()
        let expiresAt = time.adding(milliseconds: duration.wholeMilliseconds)
        let fields = self.fields
        return try await write("lease outbox") { db in
            let leaseID = try Meta.value(.lease, db) + 1
            try Meta.set(.lease, leaseID, db)
            let now = time.millisecondsSinceEpoch
            guard limit > 0 else { return OutboxLease(id: leaseID, expiresAt: expiresAt, items: []) }
            let rows = try Row.fetchAll(db, sql: OutboxLeaseQuery.lease, arguments: [
                "lease": leaseID, "expires": expiresAt.millisecondsSinceEpoch, "now": now, "limit": limit,
            ])
            let items = try rows.map { row in
                let inbox: Int64? = row["inbox_id"]
                let id: Int64 = row["id"] ?? 0
                let opened = try fields.openBody(identityColumn: row["identity_key"], body: row["body"], id: id)
                return OutboxItem(
                    id: OutboxID(id),
                    resource: OutboxResource(inboxID: inbox.map(InboxID.init(_:)), resourceType: row["resource_type"] ?? "",
                                             resourceID: row["resource_id"] ?? "", identityKey: opened.identity,
                                             body: opened.body),
                    attempts: row["attempts"] ?? 0)
            }.sorted { $0.id < $1.id }
            return OutboxLease(id: leaseID, expiresAt: expiresAt, items: items)
        }
    }

    /// Settles leased resources in one transaction: accepted rows become sent (with the
    /// server's id and version), rejected rows move to the dead letters, kept rows wait for
    /// their next attempt. Rows this lease no longer holds are reported as stale.
    @discardableResult
    package func settle(lease: Int64, _ settlements: [OutboxSettlement], actor: String = "uploader") async throws(StoreError) -> SettleReport {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("settle outbox") { db in
            var report = SettleReport()
            var accepted: [JournalSubject] = []
            var kept: [JournalSubject] = []
            var events: [JournalEvent] = []
            let holds = try db.cachedStatement(sql: "SELECT 1 FROM outbox WHERE id = ? AND state = 'leased' AND lease_id = ?")
            let markSent = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'sent', sent_at = ?, server_id = ?, server_version = ?,
                    lease_id = NULL, lease_expires_at = NULL, not_before = NULL WHERE id = ?
                """)
            let markKept = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'pending', lease_id = NULL, lease_expires_at = NULL, not_before = ? WHERE id = ?
                """)
            for settlement in settlements {
                let id = settlement.id.rawValue
                let held = try Int64.fetchOne(holds, arguments: [id, lease]) != nil
                guard held else { report.stale.append(settlement.id); continue }
                switch settlement.outcome {
                case .accept(let serverID, let serverVersion):
                    try markSent.execute(arguments: [time.millisecondsSinceEpoch, serverID, serverVersion, id])
                    report.accepted += 1
                    accepted.append(.outbox(settlement.id))
                case .reject(let errorType, let errorMessage):
                    try db.execute(sql: """
                        INSERT INTO dead_letter(origin, origin_id, stage, error_type, error_message, payload, size, replay_count,
                            created_at, inbox_id, resource_type, resource_id, identity_key)
                        SELECT 'outbox', id, 'upload', ?, ?, CAST(body AS BLOB), size, replay_count, ?, inbox_id, resource_type,
                            resource_id, identity_key
                        FROM outbox WHERE id = ?
                        """, arguments: [errorType, errorMessage, time.millisecondsSinceEpoch, id])
                    let deadLetter = DeadLetterID(db.lastInsertedRowID)
                    try fields.rebindCopiedDeadLetter(id: deadLetter.rawValue, from: "outbox", id, db)
                    try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id])
                    report.rejected.append(deadLetter)
                    events.append(JournalEvent(kind: .outboxRejected, actor: actor,
                                               subjects: [.outbox(settlement.id), .deadLetter(deadLetter)],
                                               details: ["errorType": .string(errorType)]))
                case .keep(let retryAt):
                    try markKept.execute(arguments: [retryAt?.millisecondsSinceEpoch, id])
                    report.kept += 1
                    kept.append(.outbox(settlement.id))
                }
            }
            if !accepted.isEmpty {
                events.insert(JournalEvent(kind: .outboxSent, actor: actor, subjects: accepted,
                                           details: ["resources": .int(Int64(accepted.count))]), at: 0)
            }
            if !kept.isEmpty {
                events.append(JournalEvent(kind: .outboxKept, actor: actor, subjects: kept,
                                           details: ["resources": .int(Int64(kept.count))]))
            }
            try JournalTable.append(events, at: time, chain: chain, db)
            return report
        }
    }
}

enum OutboxTable {
    /// Inserts a pending row, or replaces the body of the pending row with the same identity
    /// (a resend of the newest state is enough; one entry per identity per bundle).
    static func enqueue(_ resource: OutboxResource, replayCount: Int, time: Timestamp, _ fields: StoreFields, _ db: Database) throws -> OutboxID {
        try enqueue([resource], replayCount: replayCount, time: time, fields, db)[0]
    }

    private static let insert = MultiRowInsert(
        "INSERT INTO outbox(id, inbox_id, resource_type, resource_id, identity_key, body, size, state, replay_count, created_at)",
        row: "(?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)")

    /// `enqueue` for a batch, in order: the pending rows of the batch's identities are looked up
    /// in one statement, and later resources of an identity replace earlier ones of the batch.
    static func enqueue(_ resources: [OutboxResource], replayCount: Int, time: Timestamp, _ fields: StoreFields, _ db: Database) throws -> [OutboxID] {
        guard !resources.isEmpty else { return [] }
        // The identity column holds keyed hashes in an encrypted store; `pending` is keyed by it.
        let identities = resources.map { fields.identity($0.identityKey) }
        var pending = try pendingRows(identities: identities, db)
        let update = try db.cachedStatement(sql: """
            UPDATE outbox SET inbox_id = ?, resource_type = ?, resource_id = ?, body = ?, size = ?, replay_count = ?, kit_export = NULL WHERE id = ?
            """)
        let created = time.millisecondsSinceEpoch
        var ids: [OutboxID] = []
        ids.reserveCapacity(resources.count)
        // Ids are chosen here so that each body is sealed for its own row.
        var next = try StoreFields.nextID("outbox", db)
        // The batch's new rows get ids from `firstNew` on, in order: row `id - firstNew` of `rows`.
        let firstNew = next
        var rows: [MultiRowInsert.Values] = []
        rows.reserveCapacity(resources.count)
        for (resource, identity) in zip(resources, identities) {
            let size = resource.body.utf8.count
            if let existing = pending[identity] {
                let body = try fields.sealBody(identity: resource.identityKey, body: resource.body, id: existing)
                if existing >= firstNew {
                    // New in this batch: the later resource of the identity takes its row's place.
                    rows[Int(existing - firstNew)] = [
                        existing, resource.inboxID?.rawValue, resource.resourceType, resource.resourceID, identity, body, size,
                        replayCount, created,
                    ]
                } else {
                    // A newer body than a field kit carried: the next export carries it again.
                    try update.execute(arguments: [resource.inboxID?.rawValue, resource.resourceType, resource.resourceID, body, size,
                                                  replayCount, existing])
                }
                ids.append(OutboxID(existing))
            } else {
                let body = try fields.sealBody(identity: resource.identityKey, body: resource.body, id: next)
                rows.append([next, resource.inboxID?.rawValue, resource.resourceType, resource.resourceID, identity,
                             body, size, replayCount, created])
                pending[identity] = next
                ids.append(OutboxID(next))
                next += 1
            }
        }
        try insert.execute(rows, db)
        return ids
    }

    /// The newest pending row of each identity that has one.
    private static func pendingRows(identities: [String], _ db: Database) throws -> [String: Int64] {
        let keys = JSONWriter().string(.array(identities.map(JSONValue.string)))
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT o.identity_key, MAX(o.id) FROM (SELECT DISTINCT value FROM json_each(?)) AS k
            JOIN outbox AS o ON o.identity_key = k.value AND o.state = 'pending'
            GROUP BY o.identity_key
            """), arguments: [keys])
        var pending: [String: Int64] = [:]
        while let row = try rows.next() {
            let key: String = row[0]
            pending[key] = row[1]
        }
        return pending
    }
}

extension Store {
    /// Queues resources that no inbox message produced (the journal witness's AuditEvents) for
    /// upload, journaled as `outbox.queued` by `actor`.
    @discardableResult
    package func enqueue(_ resources: [OutboxResource], actor: String) async throws(StoreError) -> [OutboxID] {
        guard !resources.isEmpty else { return [] }
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("enqueue") { db in
            let ids = try OutboxTable.enqueue(resources, replayCount: 0, time: time, fields, db)
            try JournalTable.append([JournalEvent(
                kind: JournalKind("outbox.queued"), actor: actor, subjects: ids.map(JournalSubject.outbox),
                details: ["resources": .int(Int64(ids.count)), "types": .array(Array(Set(resources.map(\.resourceType))).sorted().map(JSONValue.string))])],
                at: time, chain: chain, db)
            return ids
        }
    }
}
