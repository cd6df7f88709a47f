import EdgeSystem
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the store's key-encryption key comes from (`store.encryption` in the configuration,
/// `--key-file`/`--key-env`/`--key-credential` on the command line).
package enum StoreKeySource: Sendable, Equatable, CustomStringConvertible {
    /// A file readable by its owner only (0600 or 0400); 32 raw bytes, 64 hex digits or base64.
    case file(String)
    /// An environment variable holding 64 hex digits or base64.
    case environment(String)
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=` or
    /// `LoadCredentialEncrypted=`, which can seal it to the TPM).
    case credential(String)

    package var description: String {
        switch self {
        case .file(let path): "key file \(path)"
        case .environment(let name): "environment variable \(name)"
        case .credential(let name): "systemd credential \(name)"
        }
    }

    /// Reads the key. Every failure names the source and says what to do; the key itself is
    /// never part of a message.
    package func load(environment: [String: String]? = nil) throws(StoreError) -> KeyEncryptionKey {
        let environment = environment ?? ProcessInfo.processInfo.environment
        switch self {
        case .file(let path):
            return try Self.readFile(path, source: description)
        case .environment(let name):
            guard let text = environment[name], !text.isEmpty else {
                throw StoreError(.keyUnavailable, "the variable is not set; export the store's key in it", location: description)
            }
            return try KeyEncryptionKey(material: Array(text.utf8), source: description)
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw StoreError(.keyUnavailable,
                    "CREDENTIALS_DIRECTORY is not set; run under systemd with LoadCredential= or LoadCredentialEncrypted=\(name):...",
                    location: description)
            }
            return try Self.readFile(directory + "/" + name, source: description)
        }
    }

    private static func readFile(_ path: String, source: String) throws(StoreError) -> KeyEncryptionKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StoreError(.keyUnavailable, "the key file cannot be found or read (\(Self.reason())); the store cannot be opened without it",
                location: source)
        }
        // Group or other access to the key defeats the point of the 0600 store files.
        guard info.st_mode & 0o077 == 0 else {
            throw StoreError(.keyUnavailable,
                "the key file is accessible to group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it",
                location: source)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(.keyUnavailable, "the key file cannot be read; check its owner", location: source)
        }
        return try KeyEncryptionKey(material: [UInt8](data), source: source)
    }

    /// Writes a new random key to `path` (mode 0600, never replacing a file), for the demo and
    /// a first start without configured key.
    package static func createKeyFile(at path: String, random: @Sendable (Int) -> [UInt8] = StoreEncryption.systemRandom) throws(StoreError) {
        let directory = FilePaths.directory(of: path)
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError(.keyUnavailable, "cannot create the key file (\(Self.reason()))", location: "key file \(path)")
        }
        defer { close(descriptor) }
        _ = fchmod(descriptor, 0o600)
        let bytes = Array(KeyEncryptionKey.newKeyText(random: random).utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw StoreError(.keyUnavailable, "cannot write the key file (\(Self.reason()))", location: "key file \(path)")
        }
    }

    /// The C library's words for the last error, e.g. "Read-only file system".
    private static func reason() -> String {
        String(cString: strerror(errno)) + ", errno \(errno)"
    }
}
