import EdgeCore

extension Store {
    /// Every identity the uploader has resolved (or had resolved and lost), as stored.
    package func serverIdentities() async throws(StoreError) -> [ServerIdentity] {
        let fields = self.fields
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT resource_type, system, value, local_id, server_id, server_version, last_updated, patient_server_id, resolved_at,
                        sealed_value
                    FROM server_identity ORDER BY resource_type, system, value
                    """).map { row in
                    let (type, system): (String, String) = (row[0], row[1])
                    let value = try fields.openIdentifier(valueColumn: row[2], sealed: row[9], resourceType: type, system: system)
                    return ServerIdentity(
                        resourceType: type, system: system, value: value, localID: row[3], serverID: row[4], serverVersion: row[5],
                        lastUpdated: row[6], patientServerID: row[7], resolvedAt: Timestamp(millisecondsSinceEpoch: row[8]))
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "could not read the server identities", location: path, cause: error)
        }
    }

    /// Stores (replacing by resource type and identifier) what the server answered, with the
    /// journal entries of the calls that found it, in one transaction.
    package func recordServerIdentities(_ identities: [ServerIdentity], journal events: [JournalEvent] = []) async throws(StoreError) {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        try await write("record server identities") { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO server_identity(resource_type, system, value, local_id, server_id, server_version, last_updated,
                    patient_server_id, resolved_at, sealed_value)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(resource_type, system, value) DO UPDATE SET sealed_value = excluded.sealed_value,
                    local_id = COALESCE(excluded.local_id, local_id), server_id = excluded.server_id,
                    server_version = excluded.server_version, last_updated = excluded.last_updated,
                    patient_server_id = excluded.patient_server_id, resolved_at = excluded.resolved_at
                """)
            for identity in identities {
                try upsert.execute(arguments: [
                    identity.resourceType, identity.system, fields.identity(identity.value), identity.localID, identity.serverID,
                    identity.serverVersion, identity.lastUpdated, identity.patientServerID, identity.resolvedAt.millisecondsSinceEpoch,
                    try fields.sealIdentifier(identity.value, resourceType: identity.resourceType, system: identity.system),
                ])
            }
            if !events.isEmpty { try JournalTable.append(events, at: time, chain: chain, db) }
        }
    }
}
