import ArgumentParser
import Audit
import FoundationEssentials
import Gateway
import Store

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Manage the store's encryption keys.",
        subcommands: [Rekey.self])

    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate the store's key: wrap its data key under a new key (and, with --data-key, re-encrypt every row).",
            discussion: """
                The current key comes from --key-file/--key-env/--key-credential, else store.encryption of \
                --config, else fhir-edge.key beside the store; the new one from --new-key-file, \
                --new-key-env or --new-key-credential (create one with `openssl rand -hex 32 > FILE; chmod 600 FILE`). \
                One transaction: either the store opens with the new key afterwards, or nothing changed and \
                it still opens with the old one. With --data-key every encrypted row is sealed again under \
                a fresh data key in that transaction. Stop the daemon first, then point store.encryption \
                at the new key. The rotation is journaled (actor `cli`). Exit 2 when a key or the store cannot be used.
                """)

        @OptionGroup var location: StoreLocation

        @Option(name: .customLong("new-key-file"), help: "The file of the new key (0600).")
        var newKeyFile: String?

        @Option(name: .customLong("new-key-env"), help: "An environment variable holding the new key.")
        var newKeyEnv: String?

        @Option(name: .customLong("new-key-credential"), help: "A systemd credential holding the new key.")
        var newKeyCredential: String?

        @Flag(name: .customLong("data-key"), help: "Also replace the data key, re-encrypting every row.")
        var dataKey = false

        func run() async throws {
            try await runningOperatorCommand {
                let sources = [newKeyFile.map(StoreKeySource.file), newKeyEnv.map(StoreKeySource.environment),
                               newKeyCredential.map(StoreKeySource.credential)].compactMap { $0 }
                guard sources.count == 1 else {
                    throw UsageFailure("give the new key with exactly one of --new-key-file, --new-key-env or --new-key-credential")
                }
                let newKey = try sources[0].load()
                let path = try location.storePath()
                guard case .encrypted = try Store.encryptionState(path: path) else {
                    throw UsageFailure("\(path): the store is not encrypted yet; start the gateway once with a key, then rotate")
                }
                guard let current = try location.encryption(forStore: path) else {
                    throw UsageFailure("\(path): the store's current key is needed; pass --key-file, --key-env or --key-credential")
                }
                let store = try Store(path: path, policy: .standard, chain: AuditChain(), now: Store.systemClock, encryption: current)
                defer { try? store.close() }
                let rows = try await store.rekey(to: newKey, newDataKey: dataKey, actor: OperatorSession.actor)
                if dataKey {
                    print("rotated: \(rows) rows re-encrypted under a new data key, wrapped by key id \(newKey.id) (\(sources[0]))")
                } else {
                    print("rotated: the data key is now wrapped by key id \(newKey.id) (\(sources[0])); rows unchanged")
                }
            }
        }
    }
}
