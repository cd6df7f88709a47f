import EdgeCore
import FoundationEssentials
import JSONQuery

extension Store {
    /// Stores `messages` durably (one transaction, fsynced) and returns their inbox ids in order.
    /// Acknowledge the sender only after this returns.
    ///
    /// When the batch does not fit under `maxBytes` even after retention, this throws
    /// `StoreError.Code.highWaterMark` (answer 503 with Retry-After) unless the policy evicts
    /// unsynced data; nothing of the batch is stored then.
    package func append(_ messages: [InboxMessage], actor: String) async throws(StoreError) -> [InboxID] {
        try await receive(messages, actor: actor).ids
    }

    /// `append`, telling which messages were already held under their delivery key: those are
    /// not stored again (a sender retrying after a lost acknowledgement), and get the first copy's id.
    ///
    /// Appends from concurrent callers that arrive while another commits are committed together
    /// in one transaction; each returns once that transaction has committed. When it fails, every
    /// append of the group throws and none of them is stored. A refusal (high-water mark) is one
    /// append's outcome and does not affect the others of its group. An append whose task is
    /// already cancelled throws `.cancelled` and stores nothing.
    package func receive(_ messages: [InboxMessage], actor: String) async throws(StoreError) -> InboxReceipt {
        guard !messages.isEmpty else { return InboxReceipt(ids: [], duplicates: 0) }
        let incoming = messages.reduce(Int64(0)) { $0 + Int64($1.payload.count) }
        if incoming > policy.maxBytes {
            throw StoreError(.tooLarge, "a batch of \(incoming) bytes exceeds the store bound of \(policy.maxBytes) bytes; split it or raise the bound")
        }
        // Cancelled before it is queued (shutdown): nothing is stored. Once queued, the append gets
        // its group's true outcome whether or not its caller is cancelled meanwhile.
        if Task.isCancelled {
            throw StoreError(.cancelled, "append was cancelled before it was queued; nothing was stored", location: path)
        }
        let outcome = try await appends.submit(PendingAppend(messages: messages, actor: actor, bytes: incoming)) {
            [self] (group: [PendingAppend]) async throws(StoreError) -> [AppendOutcome] in
            try await self.commitAppends(group)
        }
        switch outcome {
        case .stored(let receipt): return receipt
        case .refused:
            throw StoreError(.highWaterMark,
                "the store holds \(policy.maxBytes) bytes of unsynced data; refuse new data (503) until uploads catch up, or configure eviction")
        }
    }

    /// One transaction for a group of appends, each in arrival order, at one time by the store's clock.
    private func commitAppends(_ group: [PendingAppend]) async throws(StoreError) -> [AppendOutcome] {
        let (policy, chain, time, fields) = (self.policy, self.chain, now(), self.fields)
        let operation = group.count == 1 ? "append" : "append of \(group.count) concurrent requests in one transaction"
        return try await write(operation) { db in
            try group.map { try Self.insert($0, policy: policy, chain: chain, time: time, fields: fields, db) }
        }
    }

    /// One append of a group, as `receive` describes it.
    private static func insert(
        _ request: PendingAppend, policy: StorePolicy, chain: any JournalChain, time: Timestamp, fields: StoreFields, _ db: Database
    ) throws -> AppendOutcome {
        let (messages, actor, incoming) = (request.messages, request.actor, request.bytes)
        guard try Eviction.makeRoom(for: incoming, policy: policy, time: time, chain: chain, db) else {
            try Meta.add(.refused, Int64(messages.count), db)
            if try Meta.value(.highWater, db) == 0 {
                try Meta.set(.highWater, 1, db)
                let event = JournalEvent(kind: .highWaterReached, actor: "store",
                                         details: ["bytes": .int(try Meta.value(.bytes, db)), "maxBytes": .int(policy.maxBytes)])
                try JournalTable.append([event], at: time, chain: chain, db)
            }
            return .refused
        }
        var ids: [InboxID] = []
        ids.reserveCapacity(messages.count)
        var stored: [InboxID] = []
        var duplicates = 0
        var storedBytes: Int64 = 0
        // Keys count as long as synced data is kept (a sender retries within minutes, not
        // weeks); older ones are removed by the retention pass.
        let keysSince = time.millisecondsSinceEpoch - policy.retainSynced.wholeMilliseconds
        // Ids are chosen here so that each payload is sealed for its own row.
        var id = try StoreFields.nextID("inbox", db)
        var rows: [MultiRowInsert.Values] = []
        rows.reserveCapacity(messages.count)
        var deliveries: [(key: String, id: Int64, receivedAt: Int64)] = []
        // Keys of this request, so that a message repeated within it is a duplicate too.
        var keysInRequest: [String: Int64] = [:]
        for message in messages {
            if let key = message.deliveryKey {
                let indexed = fields.identity(message.profile.rawValue + "\u{1F}" + key)
                if let held = try keysInRequest[indexed]
                    ?? Int64.fetchOne(db.cachedStatement(sql: "SELECT inbox_id FROM delivery WHERE key = ? AND received_at >= ?"),
                                      arguments: [indexed, keysSince])
                {
                    ids.append(InboxID(held))
                    duplicates += 1
                    continue
                }
                keysInRequest[indexed] = id
                deliveries.append((indexed, id, message.receivedAt.millisecondsSinceEpoch))
            }
            rows.append([
                id, message.profile.rawValue, message.transport.rawValue, message.sourceID, message.deviceID,
                message.receivedAt.millisecondsSinceEpoch, message.deviceTime?.millisecondsSinceEpoch,
                try fields.sealPayload(message.payload, "inbox", id), message.payload.count,
            ])
            ids.append(InboxID(id))
            stored.append(InboxID(id))
            storedBytes += Int64(message.payload.count)
            id += 1
        }
        try InboxRow.insert.execute(rows, db)
        for delivery in deliveries {
            // Replacing a key too old to count that the retention pass has not removed yet.
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO delivery(key, inbox_id, received_at) VALUES (?, ?, ?)")
                .execute(arguments: [delivery.key, delivery.id, delivery.receivedAt])
        }
        try Meta.add(.received, Int64(stored.count), db)
        var events: [JournalEvent] = []
        if try Meta.value(.highWater, db) != 0 {
            try Meta.set(.highWater, 0, db)
            events.append(JournalEvent(kind: .highWaterCleared, actor: "store", details: ["bytes": .int(try Meta.value(.bytes, db))]))
        }
        // The devices too, once each, so a device's readings can be traced through the journal.
        var devices: [JournalSubject] = []
        var seen = Set<String>()
        for message in messages {
            if let device = message.deviceID, seen.insert(device).inserted { devices.append(.device(device)) }
        }
        var details: JSONObject = [
            "messages": .int(Int64(stored.count)),
            "bytes": .int(storedBytes),
        ]
        if duplicates > 0 { details["duplicates"] = .int(Int64(duplicates)) }
        events.append(JournalEvent(
            kind: .inboxReceived, actor: actor, subjects: stored.map(JournalSubject.inbox) + devices, details: details))
        try JournalTable.append(events, at: time, chain: chain, db)
        return .stored(InboxReceipt(ids: ids, duplicates: duplicates))
    }

    /// Claims up to `limit` pending messages, oldest first, for the mapping stage.
    package func claimInbox(limit: Int) async throws(StoreError) -> [InboxItem] {
        guard limit > 0 else { return [] }
        let fields = self.fields
        return try await write("claim inbox") { db in
            let rows = try Row.fetchAll(db, sql: """
                UPDATE inbox SET state = 'claimed'
                WHERE id IN (SELECT id FROM inbox WHERE state = 'pending' ORDER BY id LIMIT ?)
                RETURNING id, profile, transport, source_id, device_id, received_at, device_time, payload, replay_count
                """, arguments: [limit])
            return try rows.map { try InboxRow.item($0, fields) }.sorted { $0.id < $1.id }
        }
    }

    /// Hands claimed messages back to the inbox unchanged, e.g. after a mapping batch failed for
    /// a reason outside the messages (cancellation, a store error). Returns how many were claimed.
    @discardableResult
    package func releaseClaims(_ ids: [InboxID]) async throws(StoreError) -> Int {
        try await write("release claims") { db in
            let release = try db.cachedStatement(sql: "UPDATE inbox SET state = 'pending' WHERE id = ? AND state = 'claimed'")
            var released = 0
            for id in ids {
                try release.execute(arguments: [id.rawValue])
                released += db.changesCount
            }
            return released
        }
    }

    /// Settles claimed messages in one transaction: resources enter the outbox, failures move
    /// to the dead letters, the other messages are marked mapped, and the journal records it.
    /// Every id must be claimed; otherwise nothing changes and this throws `.invalidState`.
    /// A message with several failures gets one dead letter, with the first failure's type.
    @discardableResult
    package func completeMapping(_ result: MappingResult, actor: String = "mapping") async throws(StoreError) -> [OutboxID] {
        let (chain, time, fields) = (self.chain, now(), self.fields)
        let claimed = Set(result.inboxIDs)
        for failure in result.failures where !claimed.contains(failure.inboxID) {
            throw StoreError(.invalidState, "a mapping failure names a message that is not part of the result", location: failure.inboxID.description)
        }
        for resource in result.resources {
            if let origin = resource.inboxID, !claimed.contains(origin) {
                throw StoreError(.invalidState, "an outbox resource names a message that is not part of the result", location: origin.description)
            }
        }
        return try await write("complete mapping") { db in
            // One statement per step over the whole batch, ids passed as a JSON array.
            let batch = InboxRow.idList(result.inboxIDs)
            var states: [Int64: String] = [:]
            states.reserveCapacity(result.inboxIDs.count)
            let found = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT id, state FROM inbox WHERE id IN (SELECT value FROM json_each(?))
                """), arguments: [batch])
            while let row = try found.next() { states[row[0]] = row[1] }
            for id in result.inboxIDs {
                guard let state = states[id.rawValue] else {
                    throw StoreError(.notFound, "the message is not in the inbox (evicted or already dead-lettered)", location: id.description)
                }
                guard state == "claimed" else {
                    throw StoreError(.invalidState, "the message is \(state), not claimed; claim it before completing its mapping", location: id.description)
                }
            }
            let outboxIDs = try OutboxTable.enqueue(result.resources, replayCount: 0, time: time, fields, db)
            var events: [JournalEvent] = []
            var failed = Set<InboxID>()
            for failure in result.failures where failed.insert(failure.inboxID).inserted {
                try db.execute(sql: """
                    INSERT INTO dead_letter(origin, origin_id, stage, error_type, error_message, template_version, payload, size,
                        replay_count, created_at, profile, transport, source_id, device_id, received_at, device_time, inbox_id)
                    SELECT 'inbox', id, ?, ?, ?, ?, payload, size, replay_count, ?, profile, transport, source_id, device_id,
                        received_at, device_time, id
                    FROM inbox WHERE id = ?
                    """, arguments: [failure.stage, failure.errorType, failure.errorMessage, failure.templateVersion,
                                     time.millisecondsSinceEpoch, failure.inboxID.rawValue])
                let deadLetter = DeadLetterID(db.lastInsertedRowID)
                try fields.rebindCopiedDeadLetter(id: deadLetter.rawValue, from: "inbox", failure.inboxID.rawValue, db)
                try db.execute(sql: "DELETE FROM inbox WHERE id = ?", arguments: [failure.inboxID.rawValue])
                var details: JSONObject = ["stage": .string(failure.stage), "errorType": .string(failure.errorType)]
                if let version = failure.templateVersion { details["templateVersion"] = .string(version) }
                events.append(JournalEvent(kind: .deadLetterCreated, actor: actor,
                                           subjects: [.deadLetter(deadLetter), .inbox(failure.inboxID)], details: details))
            }
            let mapped = result.inboxIDs.filter { !failed.contains($0) }
            try db.cachedStatement(sql: "UPDATE inbox SET state = 'mapped' WHERE id IN (SELECT value FROM json_each(?))")
                .execute(arguments: [failed.isEmpty ? batch : InboxRow.idList(mapped)])
            let summary = JournalEvent(
                kind: .mappingCompleted, actor: actor,
                subjects: mapped.map(JournalSubject.inbox) + outboxIDs.map(JournalSubject.outbox),
                details: ["messages": .int(Int64(result.inboxIDs.count)), "resources": .int(Int64(outboxIDs.count)),
                          "failures": .int(Int64(failed.count))])
            try JournalTable.append([summary] + events + result.journal, at: time, chain: chain, db)
            return outboxIDs
        }
    }
}

/// One caller's append, queued for its group's transaction.
struct PendingAppend: Sendable {
    let messages: [InboxMessage]
    let actor: String
    let bytes: Int64
}

enum AppendOutcome: Sendable {
    case stored(InboxReceipt)
    case refused
}

enum InboxRow {
    static let insert = MultiRowInsert(
        "INSERT INTO inbox(id, profile, transport, source_id, device_id, received_at, device_time, payload, size, state)",
        row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')")

    /// `[1,2,3]`, for `json_each`.
    static func idList(_ ids: [InboxID]) -> String {
        var text = "["
        text.reserveCapacity(ids.count * 8 + 2)
        for (index, id) in ids.enumerated() {
            if index > 0 { text += "," }
            text += String(id.rawValue)
        }
        return text + "]"
    }

    /// Reads the columns by position (a name lookup folds case on every access), in the order
    /// of `claimInbox`'s RETURNING clause.
    static func item(_ row: Row, _ fields: StoreFields) throws -> InboxItem {
        let id: Int64 = row[0] ?? 0
        let payload = try fields.openPayload(row[7], "inbox", id)
        let deviceTime: Int64? = row[6]
        let message = InboxMessage(
            profile: ProfileID(row[1] ?? ""), transport: Transport(rawValue: row[2] ?? ""),
            sourceID: row[3] ?? "", deviceID: row[4],
            receivedAt: Timestamp(millisecondsSinceEpoch: row[5] ?? 0),
            deviceTime: deviceTime.map(Timestamp.init(millisecondsSinceEpoch:)),
            payload: [UInt8](payload))
        return InboxItem(id: InboxID(id), message: message, replayCount: row[8] ?? 0)
    }
}
