package import EdgeCore
package import JSONQuery
package import Store

/// Turns journal entries into FHIR R4 AuditEvent resources: identifiers only (journal entry,
/// inbox/outbox/dead-letter rows, devices), never payloads or patient data.
package struct AuditEventExporter: Sendable {
    /// Identifies this gateway as the observer (`source.observer.identifier.value`).
    package var gatewayID: String
    /// The site (`source.site`), e.g. a ward or room, when configured.
    package var site: String?

    package init(gatewayID: String, site: String? = nil) {
        self.gatewayID = gatewayID
        self.site = site
    }

    package static let identifierSystemPrefix = "urn:fhir-edge:"

    package func auditEvent(_ record: JournalRecord) -> JSONValue {
        let entry = record.entry
        let coding = AuditCoding.forKind(entry.kind)
        var event = JSONObject()
        event["resourceType"] = "AuditEvent"
        // The chain hash is unique per entry and stable, so a re-export updates rather than duplicates.
        event["id"] = .string(record.hash)
        event["type"] = Self.coding(coding.type)
        if let subtype = coding.subtype { event["subtype"] = [Self.coding(subtype)] }
        event["action"] = .string(coding.action)
        event["recorded"] = .string(entry.time.iso8601)
        event["outcome"] = .string(coding.outcome)
        event["agent"] = [agent(entry.actor)]
        event["source"] = source()
        event["entity"] = .array([journalEntity(record)] + entry.subjects.map(Self.subjectEntity))
        return .object(event)
    }

    /// Writes AuditEvents for entries recorded at or after `since` (and, for incremental
    /// exports, with sequence numbers above `afterSequence`) as NDJSON lines (no trailing newline
    /// in the string), in journal order. Returns how many were written.
    @discardableResult
    package func exportNDJSON(from reader: StoreReader, since: Timestamp, afterSequence: Int64 = 0,
                             write line: (String) throws -> Void) async throws -> Int {
        let writer = JSONWriter()
        var after = afterSequence
        var count = 0
        while true {
            let page = try await reader.journal(since: since, after: after, limit: 500)
            guard let last = page.last else { return count }
            for record in page {
                try line(writer.string(auditEvent(record)))
                count += 1
            }
            after = last.entry.sequence
        }
    }

    private func agent(_ actor: String) -> JSONValue {
        let human = actor == "operator" || actor.hasPrefix("operator:")
        let type: JSONValue = human
            ? ["coding": [["system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser", "display": "human user"]]]
            : ["coding": [["system": .string(AuditCoding.dicom), "code": "110150", "display": "Application"]]]
        return [
            "type": type,
            "who": ["identifier": ["system": .string(Self.identifierSystemPrefix + "actor"), "value": .string(actor)]],
            "requestor": .bool(true),
        ]
    }

    private func source() -> JSONValue {
        var source = JSONObject()
        if let site { source["site"] = .string(site) }
        source["observer"] = ["identifier": ["system": .string(Self.identifierSystemPrefix + "gateway"), "value": .string(gatewayID)]]
        source["type"] = [["system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"]]
        return .object(source)
    }

    /// The journal entry itself: its sequence number, chain hash and details.
    private func journalEntity(_ record: JournalRecord) -> JSONValue {
        var details: [JSONValue] = [
            ["type": "kind", "valueString": .string(record.entry.kind.rawValue)],
            ["type": "hash", "valueString": .string(record.hash)],
        ]
        let writer = JSONWriter(options: .sortedKeys)
        for (key, value) in record.entry.details.members {
            let text = value.stringValue ?? writer.string(value)
            details.append(["type": .string(key), "valueString": .string(text)])
        }
        return [
            "what": ["identifier": ["system": .string(Self.identifierSystemPrefix + "journal"), "value": .string(String(record.entry.sequence))]],
            "type": Self.systemObject,
            "detail": .array(details),
        ]
    }

    private static func subjectEntity(_ subject: JournalSubject) -> JSONValue {
        [
            "what": ["identifier": ["system": .string(identifierSystemPrefix + subject.type), "value": .string(subject.id)]],
            "type": systemObject,
        ]
    }

    private static let systemObject: JSONValue = [
        "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object",
    ]

    private static func coding(_ code: AuditCoding.Code) -> JSONValue {
        ["system": .string(code.system), "code": .string(code.code), "display": .string(code.display)]
    }
}
