/// The operating system's CSPRNG (getrandom on Linux) for secrets: keys, nonces, session tokens.
/// The one home of it, so nothing else holds a `SystemRandomNumberGenerator` of its own: an
/// `inout` access to that empty struct in sanitized code crashes ThreadSanitizer's runtime
/// (a shadow write for an address it cannot map), while the standard library's own calls are not
/// instrumented.
package enum SystemRandom {
    package static func bytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: UInt64.random(in: .min ... .max)) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }

    package static func seed() -> UInt64 {
        UInt64.random(in: .min ... .max)
    }
}
