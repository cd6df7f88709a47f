import EdgeCore
import JSONQuery
import Store

/// One device message produced by an acquisition source (a Modbus poll, a decoded BLE reading).
struct AcquiredMessage: Sendable {
    var profile: ProfileID
    var transport: Transport
    /// Who produced it, for the journal: `modbus:<device>`, `ble:<address>`.
    var sourceID: String
    /// The device the message is about (for `/status` and the journal), when known.
    var deviceID: String?
    /// The JSON message, as the profile's device templates read it.
    var payload: [UInt8]

    init(profile: ProfileID, transport: Transport, sourceID: String, deviceID: String?, message: JSONValue) {
        self.profile = profile
        self.transport = transport
        self.sourceID = sourceID
        self.deviceID = deviceID
        var bytes: [UInt8] = []
        JSONWriter().write(message, into: &bytes)
        self.payload = bytes
    }
}

/// Where every acquisition source delivers: commits to the inbox (durable before the source
/// moves on), counts, and wakes the mapping stage. Sources never touch the store directly.
struct AcquisitionSink: Sendable {
    let store: Store
    let monitor: GatewayMonitor
    let health: AcquisitionHealth
    let onCommitted: @Sendable () -> Void
    let now: @Sendable () -> Timestamp

    /// Commits `messages` in one transaction; on a store error nothing was accepted and the
    /// caller keeps (or re-reads) the values and says so in its device health.
    @discardableResult
    func deliver(_ messages: [AcquiredMessage]) async throws(StoreError) -> [InboxID] {
        guard let first = messages.first else { return [] }
        let receivedAt = now()
        let inbox = messages.map { message in
            InboxMessage(
                profile: message.profile, transport: message.transport, sourceID: message.sourceID,
                deviceID: message.deviceID, receivedAt: receivedAt, payload: message.payload)
        }
        let ids: [InboxID]
        do {
            ids = try await store.append(inbox, actor: first.sourceID)
        } catch {
            if error.code == .highWaterMark {
                _ = await monitor.recordHighWaterRefusal(messages: messages.count)
            } else {
                await monitor.recordRejected(reason: "store-error", messages: messages.count)
            }
            throw error
        }
        onCommitted()
        var byProfile: [String: Int] = [:]
        for message in messages { byProfile[message.profile.rawValue, default: 0] += 1 }
        for (profile, count) in byProfile { await monitor.recordAccepted(profile: profile, count: count) }
        return ids
    }
}
