import ArgumentParser
import EdgeCore
import FieldKit
import FoundationEssentials
import JSONQuery
import Store

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Mark what an importing gateway acknowledged as delivered, so the kit's store can prune it.",
        discussion: """
            Reads an acknowledgement written by `fhir-edge import` (and its .sig), checks its signature \
            against --trust (the importer's key file from `fhir-edge export-key` there) and that it is \
            about an export of this gateway, then marks as sent each resource that export carried and \
            the acknowledgement names with the same body. Resources it does not name, or whose body \
            changed since, stay unsent and go with the next export or upload. Journaled as \
            kit.reconciled. Exits 0 when reconciled, 1 when the acknowledgement is refused, 2 when the \
            store or a key cannot be used.
            """)

    @Argument(help: "The acknowledgement file.")
    var acknowledgement: String

    @Option(name: .long, help: "The importing gateway's kit signing key file (fhir-edge export-key there).")
    var trust: String

    @OptionGroup var location: StoreLocation

    func run() async throws {
        try await runningKitCommand(refusal: "reconcile refused: ") {
            let trusted = try usableKeyFile { try KitKeyFile.readSigningKey(trust) }
            let ack = try KitAcknowledgement(file: acknowledgement, trustedKey: trusted)
            let session = try location.session()
            defer { session.close() }
            let own = try session.reader.kitSigningPublicKey()
            guard ack.gatewayKey == own else {
                throw KitError(acknowledgement, "acknowledges an export of gateway \(ack.gateway) signed by key \(KitVerifier.fingerprint(ack.gatewayKey)), "
                    + "not one of this gateway (key \(KitVerifier.fingerprint(own))); nothing marked")
            }
            let store = try session.openWriter()
            defer { try? store.close() }
            var acknowledged: [String: String] = [:]
            for entry in ack.entries { acknowledged[entry.type + "/" + entry.id] = entry.sha256 }
            let report = try await store.reconcileKit(
                sequence: ack.sequence, acknowledged: acknowledged,
                details: ["exportID": .string(ack.exportID), "sequence": .int(ack.sequence), "importedBy": .string(ack.importedBy),
                          "importerKey": .string(KitVerifier.fingerprint(ack.importerKey)), "importedAt": .string(ack.importedAt.iso8601),
                          "acknowledged": .int(Int64(ack.entries.count))],
                actor: OperatorSession.actor)
            print("reconciled kit \(ack.sequence) (\(ack.exportID)) with \(ack.importedBy): \(report.marked) marked sent, \(report.alreadySent) already sent, "
                + "\(report.notAcknowledged) not acknowledged (still unsent), \(report.unknown) unknown")
        }
    }
}
