import EdgeSystem
import ArgumentParser
import FieldKit
import FoundationEssentials
import Store

struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a recipient key pair for encrypted field kits: FILE (private, 0600) and FILE.pub.",
        discussion: """
            Give FILE.pub to the kits that export for this recipient (`export --recipient FILE.pub`); \
            keep FILE where the kits are imported (`import --identity FILE`). Without FILE nobody can \
            open the kits made for it. Never overwrites.
            """)

    @Option(name: .long, help: "The private key file to create (the public one is FILE.pub).")
    var out: String

    func run() async throws {
        do {
            let files = try KitKeyFile.generate(at: out, random: StoreEncryption.systemRandom)
            print("identity: \(files.privatePath) (keep it secret)\nrecipient: \(files.publicPath) (give it to the kits)")
        } catch {
            standardError("fhir-edge: \(error)")
            throw ExitCode(2)
        }
    }
}

struct ExportKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-key",
        abstract: "Print (or write) this gateway's field-kit signing public key, for others to pin with --trust.",
        discussion: """
            The key is derived from the store's journal key, so it needs the store's key and stays \
            the same for the store's life. Compare its fingerprint out of band before pinning it.
            """)

    @OptionGroup var location: StoreLocation

    @Option(name: .long, help: "Write the key file here instead of printing it.")
    var out: String?

    func run() async throws {
        try await runningKitCommand {
            let session = try location.session()
            defer { session.close() }
            let key = try session.reader.kitSigningPublicKey()
            let text = KitKeyFile.signingKeyText(key)
            if let out {
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .withoutOverwriting) } catch {
                    throw KitError(out, "cannot be written (\(SystemErrorText.reason(error)))")
                }
                print("kit signing key \(KitVerifier.fingerprint(key)) written to \(out)")
            } else {
                print(text, terminator: "")
            }
        }
    }
}
