/// SHA-256 (FIPS 180-4), used for deterministic resource ids and the audit journal's hash chain.
///
/// Streaming: `update` may be called any number of times; bytes are buffered into 64-byte blocks
/// and compressed with 32-bit wrapping arithmetic.
public struct SHA256: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
        0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    /// Pending bytes of the current, incomplete block. A tuple rather than an array so that a
    /// hasher lives on the stack: resource ids hash a short string per Observation.
    private var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var blockCount = 0
    private var totalLength: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(buffer: UnsafeRawBufferPointer(buffer))
        }
        if handled == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { update(buffer: $0) }
        }
    }

    private mutating func update(buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        totalLength &+= UInt64(buffer.count)
        var index = 0
        if blockCount > 0 {
            let take = min(64 - blockCount, buffer.count)
            let filled = blockCount
            withUnsafeMutableBytes(of: &block) { block in
                block.baseAddress!.advanced(by: filled).copyMemory(from: base, byteCount: take)
            }
            blockCount += take
            index = take
            guard blockCount == 64 else { return }
            var pending = block
            withUnsafeBytes(of: &pending) { compress($0.baseAddress!) }
            blockCount = 0
        }
        while buffer.count - index >= 64 {
            compress(base + index)
            index += 64
        }
        let rest = buffer.count - index
        if rest > 0 {
            withUnsafeMutableBytes(of: &block) { block in
                block.baseAddress!.copyMemory(from: base + index, byteCount: rest)
            }
        }
        blockCount = rest
    }

    /// The 32-byte digest of everything passed to `update`. Does not change `self`.
    public func finalize() -> [UInt8] {
        let s = finalState()
        return [UInt8](unsafeUninitializedCapacity: 32) { digest, count in
            var i = 0
            for word in [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7] {
                digest[i] = UInt8(truncatingIfNeeded: word >> 24)
                digest[i + 1] = UInt8(truncatingIfNeeded: word >> 16)
                digest[i + 2] = UInt8(truncatingIfNeeded: word >> 8)
                digest[i + 3] = UInt8(truncatingIfNeeded: word)
                i += 4
            }
            count = 32
        }
    }

    /// Lowercase hex of the digest of everything passed to `update`, written straight from the
    /// state words (no intermediate byte array). Does not change `self`.
    public func hexDigest() -> String {
        var words = finalState()
        return String(unsafeUninitializedCapacity: 64) { out in
            withUnsafeBytes(of: &words) { raw in
                for w in 0..<8 {
                    let word = raw.load(fromByteOffset: 4 * w, as: UInt32.self)
                    for nibble in 0..<8 {
                        let digit = UInt8(truncatingIfNeeded: word >> UInt32(28 - 4 * nibble)) & 0x0F
                        out[8 * w + nibble] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") - 10 + digit
                    }
                }
            }
            return 64
        }
    }

    /// The state after padding: 0x80, zeros, then the 64-bit big-endian bit length, in one or two blocks.
    private func finalState() -> (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) {
        var copy = self
        let bitLength = totalLength &* 8
        var tail: (SIMD64<UInt8>, SIMD64<UInt8>) = (.zero, .zero)
        withUnsafeMutableBytes(of: &tail) { tail in
            let pending = copy.blockCount
            withUnsafeBytes(of: &copy.block) { block in
                tail.baseAddress!.copyMemory(from: block.baseAddress!, byteCount: pending)
            }
            tail[pending] = 0x80
            let total = pending < 56 ? 64 : 128
            tail.storeBytes(of: bitLength.bigEndian, toByteOffset: total - 8, as: UInt64.self)
            copy.compress(tail.baseAddress!)
            if total == 128 { copy.compress(tail.baseAddress! + 64) }
        }
        return copy.state
    }

    public static func hash(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Lowercase hex SHA-256 of the string's UTF-8 bytes.
    public static func hexDigest(_ string: String) -> String {
        var hasher = SHA256()
        hasher.update(string.utf8)
        return hasher.hexDigest()
    }

    /// Lowercase hex of arbitrary bytes.
    public static func hex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = digits[Int(byte >> 4)]
                    out[2 * i + 1] = digits[Int(byte & 0x0f)]
                }
            }
            return bytes.count * 2
        }
    }

    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// One SHA-256 round: `d += t1` and `h = t1 + t2`; the caller rotates the names.
    @inline(__always)
    private static func round(
        _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
        _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32
    ) {
        let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
        let choice = (e & f) ^ (~e & g)
        let t1 = h &+ s1 &+ choice &+ kw
        let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
        let majority = (a & b) ^ (a & c) ^ (b & c)
        d = d &+ t1
        h = t1 &+ s0 &+ majority
    }

    /// Compresses the 64-byte block at `block` into the state.
    private mutating func compress(_ block: UnsafeRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
            }
            for t in 16..<64 {
                let x = w[t - 15], y = w[t - 2]
                let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x >> 3)
                let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = state
            // Eight rounds per pass with the variables renamed instead of shifted: the usual
            // unrolling, which saves the seven register moves every round would otherwise make.
            Self.roundConstants.withUnsafeBufferPointer { k in
                for t in stride(from: 0, to: 64, by: 8) {
                    Self.round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
                    Self.round(h, a, b, &c, d, e, f, &g, k[t + 1] &+ w[t + 1])
                    Self.round(g, h, a, &b, c, d, e, &f, k[t + 2] &+ w[t + 2])
                    Self.round(f, g, h, &a, b, c, d, &e, k[t + 3] &+ w[t + 3])
                    Self.round(e, f, g, &h, a, b, c, &d, k[t + 4] &+ w[t + 4])
                    Self.round(d, e, f, &g, h, a, b, &c, k[t + 5] &+ w[t + 5])
                    Self.round(c, d, e, &f, g, h, a, &b, k[t + 6] &+ w[t + 6])
                    Self.round(b, c, d, &e, f, g, h, &a, k[t + 7] &+ w[t + 7])
                }
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                     state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
        }
    }
}
