import Audit
import EdgeCore
import JSONQuery
import Logging
import ServiceLifecycle
import Store

/// Sends the journal's head upstream now and then: a signed checkpoint, queued as an AuditEvent
/// (PUT by its chain hash, so a resend does not duplicate) and uploaded with everything else.
/// The server then holds a witness: a later rewrite of the journal on the box, even by someone
/// with its key, no longer matches what the server received.
struct JournalWitnessService: Service {
    let store: Store
    let exporter: AuditEventExporter
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await witness()
            }
        }
    }

    /// One witness, when the journal moved since the last one. Returns the checkpoint's sequence number.
    @discardableResult
    func witness() async -> Int64? {
        do throws(StoreError) {
            guard let checkpoint = try await store.checkpointJournal() else { return nil }
            let event = exporter.auditEvent(checkpoint)
            try await store.enqueue([OutboxResource(
                inboxID: nil, resourceType: "AuditEvent", resourceID: checkpoint.hash, identityKey: "AuditEvent/" + checkpoint.hash,
                json: event)], actor: "journal-witness")
            logger.info("Journal head queued upstream as a witness", metadata: ["edge.journal.sequence": "\(checkpoint.entry.sequence)"])
            return checkpoint.entry.sequence
        } catch {
            logger.error("Journal witness not queued", metadata: ["edge.store.error": "\(error.code)"])
            return nil
        }
    }
}
