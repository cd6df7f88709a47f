import EdgeCore
package import JSONQuery
package import Store

extension DeadLetter {
    /// Everything but the payload, as `deadletter list --json` and `GET /deadletters` show it.
    package var summaryJSON: JSONObject {
        var object: JSONObject = [
            "id": .int(id.rawValue), "origin": .string(origin.text), "stage": .string(stage),
            "errorType": .string(errorType), "errorMessage": .string(errorMessage),
            "replayCount": .int(Int64(replayCount)), "createdAt": .string(createdAt.iso8601),
            "size": .int(Int64(size)),
        ]
        if let templateVersion { object["templateVersion"] = .string(templateVersion) }
        if let profile { object["profile"] = .string(profile.rawValue) }
        if let transport { object["transport"] = .string(transport.rawValue) }
        if let deviceID { object["deviceId"] = .string(deviceID) }
        if let resourceType { object["resourceType"] = .string(resourceType) }
        if let resourceID { object["resourceId"] = .string(resourceID) }
        return object
    }
}

extension DeadLetter.Origin {
    /// `inbox/42` or `outbox/7`.
    package var text: String {
        switch self {
        case .inbox(let id): id.description
        case .outbox(let id): id.description
        }
    }
}

extension ReplayDestination {
    /// Where a replayed dead letter went: `inbox/42` (mapped again) or `outbox/7` (sent again).
    package var text: String {
        switch self {
        case .inbox(let id): id.description
        case .outbox(let id): id.description
        }
    }
}
