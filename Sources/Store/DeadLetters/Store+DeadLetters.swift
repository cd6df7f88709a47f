import FoundationEssentials
import EdgeCore
import JSONQuery

extension Store {
    /// Moves dead letters back to where they came from, in one transaction: a message back to
    /// the inbox (to be mapped again, e.g. after a template fix), a rejected resource back to
    /// the outbox. Each replay is counted on the row and journaled. Unknown ids throw `.notFound`
    /// and change nothing.
    package func replayDeadLetters(_ ids: [DeadLetterID], actor: String) async throws(StoreError) -> [ReplayDestination] {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        return try await write("replay dead letters") { db in
            var destinations: [ReplayDestination] = []
            var events: [JournalEvent] = []
            for id in ids {
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM dead_letter WHERE id = ?", arguments: [id.rawValue]) else {
                    throw StoreError(.notFound, "no such dead letter; list them with `fhir-edge queue dead-letters`", location: id.description)
                }
                let replayCount: Int = (row["replay_count"] ?? 0) + 1
                let origin: String = row["origin"] ?? ""
                let destination: ReplayDestination
                if origin == "inbox" {
                    try db.execute(sql: """
                        INSERT INTO inbox(profile, transport, source_id, device_id, received_at, device_time, payload, size, state, replay_count)
                        SELECT COALESCE(profile, ''), COALESCE(transport, 'replay'), COALESCE(source_id, ''), device_id,
                            COALESCE(received_at, created_at), device_time, payload, size, 'pending', ?
                        FROM dead_letter WHERE id = ?
                        """, arguments: [replayCount, id.rawValue])
                    let inbox = db.lastInsertedRowID
                    try fields.rebindReplayedInbox(id: inbox, deadLetter: id.rawValue, db)
                    destination = .inbox(InboxID(inbox))
                } else {
                    let inbox: Int64? = row["inbox_id"]
                    let opened = try fields.openDeadLetter(payload: row["payload"], identityColumn: row["identity_key"], origin: origin,
                                                           id: id.rawValue)
                    let resource = OutboxResource(
                        inboxID: inbox.map(InboxID.init(_:)), resourceType: row["resource_type"] ?? "",
                        resourceID: row["resource_id"] ?? "", identityKey: opened.identity ?? "",
                        body: String(decoding: opened.payload, as: UTF8.self))
                    destination = .outbox(try OutboxTable.enqueue(resource, replayCount: replayCount, time: time, fields, db))
                }
                try db.execute(sql: "DELETE FROM dead_letter WHERE id = ?", arguments: [id.rawValue])
                destinations.append(destination)
                let target: JournalSubject = switch destination {
                case .inbox(let inbox): .inbox(inbox)
                case .outbox(let outbox): .outbox(outbox)
                }
                events.append(JournalEvent(kind: .deadLetterReplayed, actor: actor, subjects: [.deadLetter(id), target],
                                           details: ["replayCount": .int(Int64(replayCount))]))
            }
            try JournalTable.append(events, at: time, chain: chain, db)
            return destinations
        }
    }
}

extension Store {
    /// Deletes dead letters an operator has given up on, each one journaled. Unknown ids throw
    /// `.notFound` and change nothing.
    package func discardDeadLetters(_ ids: [DeadLetterID], actor: String) async throws(StoreError) {
        let (chain, time) = (self.chain, now())
        try await write("discard dead letters") { db in
            var events: [JournalEvent] = []
            for id in ids {
                guard let row = try Row.fetchOne(db, sql: "SELECT stage, error_type, size FROM dead_letter WHERE id = ?", arguments: [id.rawValue]) else {
                    throw StoreError(.notFound, "no such dead letter; list them with `fhir-edge queue dead-letters`", location: id.description)
                }
                try db.execute(sql: "DELETE FROM dead_letter WHERE id = ?", arguments: [id.rawValue])
                events.append(JournalEvent(kind: .deadLetterDiscarded, actor: actor, subjects: [.deadLetter(id)], details: [
                    "stage": .string(row["stage"] ?? ""), "errorType": .string(row["error_type"] ?? ""), "bytes": .int(row["size"] ?? 0),
                ]))
            }
            try JournalTable.append(events, at: time, chain: chain, db)
        }
    }
}

enum DeadLetterRow {
    static func deadLetter(_ row: Row, withPayload: Bool, _ fields: StoreFields) throws -> DeadLetter {
        let originID: Int64 = row["origin_id"] ?? 0
        let originName: String = row["origin"] ?? ""
        let profile: String? = row["profile"]
        let transport: String? = row["transport"]
        var payload: [UInt8]?
        if withPayload {
            let opened = try fields.openDeadLetter(payload: row["payload"], identityColumn: row["identity_key"], origin: originName,
                                                   id: row["id"] ?? 0)
            payload = [UInt8](opened.payload)
        }
        return DeadLetter(
            id: DeadLetterID(row["id"] ?? 0),
            origin: originName == "outbox" ? .outbox(OutboxID(originID)) : .inbox(InboxID(originID)),
            stage: row["stage"] ?? "", errorType: row["error_type"] ?? "", errorMessage: row["error_message"] ?? "",
            templateVersion: row["template_version"], replayCount: row["replay_count"] ?? 0,
            createdAt: Timestamp(millisecondsSinceEpoch: row["created_at"] ?? 0), size: row["size"] ?? 0,
            profile: profile.map(ProfileID.init), transport: transport.map { Transport(rawValue: $0) },
            deviceID: row["device_id"], resourceType: row["resource_type"], resourceID: row["resource_id"],
            payload: payload)
    }
}
