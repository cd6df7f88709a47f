import EdgeCore
import JSONQuery
import Logging
import Store

/// The one place where device messages enter the gateway, whatever their transport (HTTP
/// ingest, Modbus polls, BLE readings, HL7 over MLLP, MQTT): commits them to the inbox
/// (durable before any source acknowledges), counts and logs every refusal the same way, and
/// wakes the mapping stage. Sources never touch the store directly.
struct IntakeSink: MessageSink {
    /// Seconds a refused sender should wait when the store is full; the mapping stage and the
    /// uploader free space in batches.
    static let highWaterRetryAfter: Duration = .seconds(5)
    /// A full disk is freed by an operator or by uploads and retention, not within seconds.
    static let diskFullRetryAfter: Duration = .seconds(30)
    /// After a store error that is neither of those.
    static let storeErrorRetryAfter: Duration = .seconds(5)

    let store: Store
    let monitor: GatewayMonitor
    /// Whether a profile is loaded (the catalog's names), checked before anything is stored.
    let profileLoaded: @Sendable (ProfileID) -> Bool
    let onCommitted: @Sendable () -> Void
    let now: @Sendable () -> Timestamp
    let logger: Logger

    /// Why a commit took nothing, with the answer a source gives its sender: retry after
    /// `retryAfter`, or (nil) never as it is.
    struct Refused: Error, CustomStringConvertible {
        var refusal: IntakeRefusal
        var retryAfter: Duration?
        var decision: IntakeDecision { retryAfter.map { .retryLater(refusal, after: $0) } ?? .rejected(refusal) }
        var description: String { refusal.description }
    }

    func deliver(_ messages: [DeviceMessage]) async -> IntakeDecision {
        do {
            let receipt = try await commit(messages, actor: messages.first?.sourceID ?? "intake")
            return .accepted(stored: receipt.ids.count - receipt.duplicates, duplicates: receipt.duplicates)
        } catch {
            return error.decision
        }
    }

    /// Commits `messages` in one transaction, journaled as received by `actor`; on a refusal
    /// nothing was taken and the caller keeps (or re-reads) the values.
    @discardableResult
    func commit(_ messages: [DeviceMessage], actor: String) async throws(Refused) -> InboxReceipt {
        guard !messages.isEmpty else { return InboxReceipt(ids: [], duplicates: 0) }
        for message in messages where !profileLoaded(message.profile) {
            await monitor.recordRejected(reason: "unknown-profile", messages: messages.count)
            throw Refused(refusal: IntakeRefusal(code: "unknown-profile", reason: "no device profile named \(message.profile) is loaded"))
        }
        let receivedAt = now()
        let receipt: InboxReceipt
        do {
            receipt = try await store.receive(messages.map { InboxMessage($0, receivedAt: receivedAt) }, actor: actor)
        } catch {
            throw await refused(error, messages: messages, actor: actor, at: receivedAt)
        }
        onCommitted()
        var byProfile: [String: Int] = [:]
        for message in messages { byProfile[message.profile.rawValue, default: 0] += 1 }
        var cleared = false
        for (profile, count) in byProfile.sorted(by: { $0.key < $1.key }) {
            cleared = await monitor.recordAccepted(profile: profile, count: count) || cleared
        }
        if cleared { logger.notice("Store below its high-water mark again: intake accepts data") }
        if receipt.duplicates > 0 {
            await monitor.recordRejected(reason: "duplicate", messages: receipt.duplicates)
        }
        return receipt
    }

    private func refused(_ error: StoreError, messages: [DeviceMessage], actor: String, at time: Timestamp) async -> Refused {
        let metadata: Logger.Metadata = ["edge.source": "\(actor)", "edge.profile": "\(messages[0].profile)"]
        switch error.code {
        case .highWaterMark:
            if await monitor.recordHighWaterRefusal(messages: messages.count) {
                logger.warning("Store at its high-water mark: intake refuses new data until space is freed", metadata: metadata)
            }
            return Refused(
                refusal: IntakeRefusal(code: "high-water-mark", reason: "the store is full of unsynced data; retry later"),
                retryAfter: Self.highWaterRetryAfter)
        case .tooLarge:
            await monitor.recordRejected(reason: "too-large", messages: messages.count)
            return Refused(refusal: IntakeRefusal(code: "too-large", reason: "the batch is larger than the whole store bound; split it"))
        case .diskFull:
            await monitor.recordRejected(reason: "disk-full", messages: messages.count)
            await monitor.recordError("intake: disk-full", at: time)
            logger.error("The disk holding the store is full: intake refuses new data until space is freed", metadata: metadata)
            return Refused(
                refusal: IntakeRefusal(code: "disk-full", reason: "the gateway's disk is full; nothing was accepted; retry later", cause: error),
                retryAfter: Self.diskFullRetryAfter)
        default:
            await monitor.recordRejected(reason: "store-error", messages: messages.count)
            await monitor.recordError("intake: \(error.code)", at: time)
            logger.error("Intake could not commit to the store", metadata: metadata.merging(["edge.store.error": "\(error.code)"]) { $1 })
            return Refused(
                refusal: IntakeRefusal(
                    code: "store-error", reason: "the store could not commit the messages; nothing was accepted", cause: error),
                retryAfter: Self.storeErrorRetryAfter)
        }
    }
}

extension DeviceMessage {
    /// A message a source produced as JSON (a Modbus poll, a decoded BLE reading).
    init(profile: ProfileID, transport: Transport, sourceID: String, deviceID: String?, message: JSONValue) {
        var bytes: [UInt8] = []
        JSONWriter().write(message, into: &bytes)
        self.init(profile: profile, transport: transport, sourceID: sourceID, deviceID: deviceID, payload: bytes)
    }
}
