internal import Crypto
import EdgeCore

/// SHA-256 from swift-crypto (BoringSSL's assembly on Linux), with the hex output the
/// resource ids, profile versions and the audit journal's hash chain use.
///
/// Streaming: `update` may be called any number of times; copies are independent, so a hasher
/// fed a common prefix can be copied and finished many times.
package struct SHA256: Sendable {
    private var hasher = Crypto.SHA256()

    package init() {}

    package mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            hasher.update(bufferPointer: UnsafeRawBufferPointer(buffer))
        }
        if handled == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
    }

    /// The 32-byte digest of everything passed to `update`. Does not change `self`.
    package func finalize() -> [UInt8] {
        hasher.finalize().withUnsafeBytes { Array($0) }
    }

    /// Lowercase hex of the digest of everything passed to `update`. Does not change `self`.
    package func hexDigest() -> String {
        hasher.finalize().withUnsafeBytes { Hex.string($0) }
    }

    package static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Lowercase hex SHA-256 of the string's UTF-8 bytes.
    package static func hexDigest(_ string: String) -> String {
        var hasher = SHA256()
        hasher.update(string.utf8)
        return hasher.hexDigest()
    }
}
