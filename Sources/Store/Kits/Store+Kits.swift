import Crypto
package import EdgeCore
package import FoundationEssentials
package import JSONQuery

/// An unsent outbox row as a field kit carries it.
package struct KitRow: Sendable, Equatable {
    package var id: OutboxID
    package var resourceType: String
    package var resourceID: String
    package var body: String
    /// When the row entered the outbox, by the kit's clock.
    package var queuedAt: Timestamp
}

/// One export of a field kit, as the importing side identifies it.
package struct KitImport: Sendable {
    /// The exporting gateway's kit signing key (hex): what replay protection is keyed by.
    package var sourceKey: String
    package var gateway: String
    package var sequence: Int64
    package var exportID: String
    package var resources: [OutboxResource]
    /// Identifiers and counts for the journal entry (never resource content).
    package var details: JSONObject

    package init(sourceKey: String, gateway: String, sequence: Int64, exportID: String, resources: [OutboxResource], details: JSONObject) {
        self.sourceKey = sourceKey
        self.gateway = gateway
        self.sequence = sequence
        self.exportID = exportID
        self.resources = resources
        self.details = details
    }
}

/// What an acknowledgement did on the kit.
package struct KitReconcileReport: Sendable, Equatable {
    /// Unsent rows of the export now marked sent.
    package var marked = 0
    /// Rows of the export that were already sent (uploaded by the kit itself, or acknowledged before).
    package var alreadySent = 0
    /// Rows of the export the acknowledgement does not name, or names with another body: left unsent.
    package var notAcknowledged = 0
    /// Acknowledged resources this export did not carry (or that retention removed since): ignored.
    package var unknown = 0
}

extension StoreReader {
    /// Unsent rows no field kit has carried yet (or whose body changed since), oldest first;
    /// with `includingCarried` every unsent row (to carry again what a lost kit carried).
    package func unexportedOutbox(after: OutboxID? = nil, limit: Int = 500, includingCarried: Bool = false) async throws(StoreError) -> [KitRow] {
        let fields = self.fields
        let sql = includingCarried
            ? "SELECT id, resource_type, resource_id, identity_key, body, created_at FROM outbox WHERE id > ? AND state <> 'sent' ORDER BY id LIMIT ?"
            : """
                SELECT id, resource_type, resource_id, identity_key, body, created_at FROM outbox INDEXED BY outbox_unexported
                WHERE id > ? AND kit_export IS NULL AND state <> 'sent' ORDER BY id LIMIT ?
                """
        return try await read("read unexported outbox") { db in
            try Row.fetchAll(db, sql: sql, arguments: [after?.rawValue ?? 0, limit]).map { row in
                let id: Int64 = row[0]
                let body = try fields.openBody(identityColumn: row[3], body: row[4], id: id).body
                return KitRow(id: OutboxID(id), resourceType: row[1], resourceID: row[2], body: body,
                              queuedAt: Timestamp(millisecondsSinceEpoch: row[5]))
            }
        }
    }

    /// The sequence number of the last field kit written (0: none yet).
    package func kitExportSequence() async throws(StoreError) -> Int64 {
        try await read("read kit sequence") { db in try Meta.value(.kitExportSequence, db) }
    }

    /// The gateway's kit signing key's public half (32 bytes, Ed25519). Only an encrypted store
    /// has one: it is derived from the journal key.
    package func kitSigningPublicKey() throws(StoreError) -> Data {
        try kitSigningKey().publicKey.rawRepresentation
    }

    /// An Ed25519 signature by the kit signing key over `data`.
    package func kitSignature(for data: Data) throws(StoreError) -> Data {
        let key = try kitSigningKey()
        do {
            return try key.signature(for: data)
        } catch {
            throw StoreError(.database, "could not sign with the kit signing key", cause: error)
        }
    }

    private func kitSigningKey() throws(StoreError) -> Curve25519.Signing.PrivateKey {
        guard let journal else {
            throw StoreError(.keyRequired,
                "field kits are signed with a key derived from the store's journal key, and this store is kept in clear; "
                    + "start the gateway once with a key (it creates fhir-edge.key beside the store) or pass --key-file")
        }
        do {
            return try journal.kitSigningKey()
        } catch {
            throw StoreError(.database, "could not derive the kit signing key", cause: error)
        }
    }

    /// The source key pinned for `gateway` by its first import, if any.
    package func kitSourceKey(gateway: String) async throws(StoreError) -> String? {
        try await read("read kit source") { db in
            try String.fetchOne(db, sql: "SELECT source_key FROM kit_source WHERE gateway = ?", arguments: [gateway])
        }
    }

    /// The sequence numbers imported from the source with `sourceKey`, in order.
    package func kitImportedSequences(sourceKey: String) async throws(StoreError) -> [Int64] {
        try await read("read kit imports") { db in
            try Int64.fetchAll(db, sql: "SELECT sequence FROM kit_import WHERE source_key = ? ORDER BY sequence", arguments: [sourceKey])
        }
    }
}

extension Store {
    /// Records field kit `sequence` as written, with the rows it carries (id and the SHA-256 of
    /// the body it carried): each row whose body is still that one is marked as exported, so the
    /// next export leaves it out; a row replaced meanwhile stays unexported and goes with the next.
    /// Journals `kit.exported` with `details`. Fails with `.invalidState` when another export
    /// took this sequence number meanwhile; nothing changes then.
    @discardableResult
    package func recordKitExport(sequence: Int64, rows: [(id: OutboxID, sha256: String)], details: JSONObject,
                                actor: String) async throws(StoreError) -> Int {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("record kit export") { db in
            let last = try Meta.value(.kitExportSequence, db)
            guard last == sequence - 1 else {
                throw StoreError(.invalidState, "another export (\(last)) was written while this one (\(sequence)) was; write this one again",
                    location: "kit export \(sequence)")
            }
            try Meta.set(.kitExportSequence, sequence, db)
            let select = try db.cachedStatement(sql: "SELECT identity_key, body FROM outbox WHERE id = ? AND state <> 'sent'")
            let mark = try db.cachedStatement(sql: "UPDATE outbox SET kit_export = ? WHERE id = ?")
            var marked = 0
            for row in rows {
                guard let stored = try Row.fetchOne(select, arguments: [row.id.rawValue]) else { continue }
                let body = try fields.openBody(identityColumn: stored[0], body: stored[1], id: row.id.rawValue).body
                guard Store.sha256(body) == row.sha256 else { continue }
                try mark.execute(arguments: [sequence, row.id.rawValue])
                marked += 1
            }
            var details = details
            details["marked"] = .int(Int64(marked))
            try JournalTable.append([JournalEvent(kind: .kitExported, actor: actor, details: details)], at: time, chain: chain, db)
            return marked
        }
    }

    /// Takes a verified field kit: refuses it (`.kitRefused`, nothing changes) when its source
    /// already had this or a later export imported, or when its gateway's kits were signed by
    /// another key before; otherwise pins the key on first sight, queues the resources for upload
    /// and records the import, journaled as `kit.imported`, in one transaction.
    package func importKit(_ kit: KitImport, actor: String) async throws(StoreError) -> [OutboxID] {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("import kit") { db in
            if let pinned = try String.fetchOne(db, sql: "SELECT source_key FROM kit_source WHERE gateway = ?", arguments: [kit.gateway]) {
                guard pinned == kit.sourceKey else {
                    throw StoreError(.kitRefused,
                        "signed by key \(kit.sourceKey.prefix(16))…, but gateway \(kit.gateway)'s earlier exports were signed by key "
                            + "\(pinned.prefix(16))…; nothing imported", location: "export \(kit.exportID)")
                }
            } else {
                try db.execute(sql: "INSERT INTO kit_source(gateway, source_key, pinned_at) VALUES (?, ?, ?)",
                               arguments: [kit.gateway, kit.sourceKey, time.millisecondsSinceEpoch])
            }
            if let row = try Row.fetchOne(db, sql: """
                SELECT sequence, export_id, imported_at FROM kit_import WHERE source_key = ? AND sequence >= ? ORDER BY sequence DESC LIMIT 1
                """, arguments: [kit.sourceKey, kit.sequence]) {
                let sequence: Int64 = row[0]
                let at = Timestamp(millisecondsSinceEpoch: row[2]).iso8601
                let reason = sequence == kit.sequence
                    ? "export \(kit.sequence) of gateway \(kit.gateway) was already imported at \(at) (a replay); nothing imported"
                    : "export \(kit.sequence) of gateway \(kit.gateway) is older than export \(sequence), imported at \(at) "
                        + "(a replayed or out-of-order export); nothing imported"
                throw StoreError(.kitRefused, reason, location: "export \(kit.exportID)")
            }
            let ids = try OutboxTable.enqueue(kit.resources, replayCount: 0, time: time, fields, db)
            try db.execute(sql: """
                INSERT INTO kit_import(source_key, sequence, export_id, gateway, resources, imported_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [kit.sourceKey, kit.sequence, kit.exportID, kit.gateway, kit.resources.count, time.millisecondsSinceEpoch])
            var details = kit.details
            details["queued"] = .int(Int64(ids.count))
            try JournalTable.append([JournalEvent(kind: .kitImported, actor: actor, subjects: ids.map(JournalSubject.outbox), details: details)],
                                    at: time, chain: chain, db)
            return ids
        }
    }

    /// Marks the rows export `sequence` carried as sent where `acknowledged` (`Type/id` to the
    /// SHA-256 of the body taken) names them with the body the kit still holds; the rest stay
    /// unsent. Journals `kit.reconciled` with `details` and the counts.
    package func reconcileKit(sequence: Int64, acknowledged: [String: String], details: JSONObject,
                             actor: String) async throws(StoreError) -> KitReconcileReport {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("reconcile kit") { db in
            var report = KitReconcileReport()
            var seen = Set<String>()
            let markSent = try db.cachedStatement(sql: """
                UPDATE outbox SET state = 'sent', sent_at = ?, lease_id = NULL, lease_expires_at = NULL, not_before = NULL WHERE id = ?
                """)
            var marked: [JournalSubject] = []
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, resource_type, resource_id, identity_key, body, state FROM outbox INDEXED BY outbox_by_kit_export
                WHERE kit_export = ? ORDER BY id
                """, arguments: [sequence])
            for row in rows {
                let id: Int64 = row[0]
                let key = (row[1] as String) + "/" + (row[2] as String)
                let state: String = row[5]
                guard let hash = acknowledged[key], hash == Store.sha256(try fields.openBody(identityColumn: row[3], body: row[4], id: id).body) else {
                    if state != "sent" { report.notAcknowledged += 1 }
                    continue
                }
                seen.insert(key)
                if state == "sent" {
                    report.alreadySent += 1
                } else {
                    try markSent.execute(arguments: [time.millisecondsSinceEpoch, id])
                    report.marked += 1
                    marked.append(.outbox(OutboxID(id)))
                }
            }
            report.unknown = acknowledged.keys.filter { !seen.contains($0) }.count
            var details = details
            details["marked"] = .int(Int64(report.marked))
            details["alreadySent"] = .int(Int64(report.alreadySent))
            details["notAcknowledged"] = .int(Int64(report.notAcknowledged))
            details["unknown"] = .int(Int64(report.unknown))
            try JournalTable.append([JournalEvent(kind: .kitReconciled, actor: actor, subjects: marked, details: details)],
                                    at: time, chain: chain, db)
            return report
        }
    }

    /// Lowercase hex SHA-256 of a body's UTF-8 text: how kits and acknowledgements name a body.
    package static func sha256(_ body: String) -> String {
        Hex.string(SHA256.hash(data: Data(body.utf8)))
    }
}
