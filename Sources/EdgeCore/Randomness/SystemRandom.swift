#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operating system's CSPRNG for secrets: keys, nonces, session tokens.
/// The one home of it, so nothing else holds a `SystemRandomNumberGenerator` of its own: an
/// `inout` access to that empty struct in sanitized code crashes ThreadSanitizer's runtime
/// (a shadow write for an address it cannot map), while the standard library's own calls are not
/// instrumented.
package enum SystemRandom {
    /// `count` bytes from `getentropy(3)` (getrandom on Linux): one system call for up to 256
    /// bytes, where `UInt64.random` makes one per 8 (a store nonce took two).
    package static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let chunk = min(256, buffer.count - offset)
                // Fails only for a chunk over 256 bytes or a kernel without getrandom (before 3.17),
                // where no secret could be made at all.
                let status = getentropy(buffer.baseAddress! + offset, chunk)
                precondition(status == 0, "getentropy failed: \(errno)")
                offset += chunk
            }
        }
        return bytes
    }

    package static func seed() -> UInt64 {
        UInt64.random(in: .min ... .max)
    }
}
