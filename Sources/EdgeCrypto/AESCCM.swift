internal import Crypto
internal import _CryptoExtras

/// AES-128 in CCM mode (RFC 3610), decryption only: what BTHome's encrypted adverts need.
///
/// swift-crypto has no CCM, so the mode is composed here from its AES block function
/// (`AES.permute`, the forward direction): CTR for the payload, CBC-MAC for the tag.
/// Adverts are tiny and rare, so clarity beats speed.
package struct AESCCM: Sendable {
    private let key: SymmetricKey

    package init?(key: [UInt8]) {
        guard key.count == 16 else { return nil }
        self.key = SymmetricKey(data: key)
    }

    /// The plaintext, or nil when the tag does not verify. Nonce: 7 to 13 bytes.
    package func open(ciphertext: [UInt8], tag: [UInt8], nonce: [UInt8]) -> [UInt8]? {
        let lengthSize = 15 - nonce.count
        guard (2...8).contains(lengthSize), [4, 6, 8, 10, 12, 14, 16].contains(tag.count),
            lengthSize >= 8 || ciphertext.count < 1 << (8 * lengthSize)
        else { return nil }

        func counterBlock(_ index: Int) -> [UInt8] {
            var block = [UInt8(lengthSize - 1)] + nonce
            for i in stride(from: lengthSize - 1, through: 0, by: -1) { block.append(UInt8(truncatingIfNeeded: index >> (8 * i))) }
            return block
        }
        var plaintext = [UInt8]()
        plaintext.reserveCapacity(ciphertext.count)
        var blockIndex = 1
        for start in stride(from: 0, to: ciphertext.count, by: 16) {
            let stream = encrypt(counterBlock(blockIndex))
            for (i, byte) in ciphertext[start..<min(start + 16, ciphertext.count)].enumerated() { plaintext.append(byte ^ stream[i]) }
            blockIndex += 1
        }

        var b0 = [UInt8(8 * ((tag.count - 2) / 2) + (lengthSize - 1))] + nonce
        for i in stride(from: lengthSize - 1, through: 0, by: -1) { b0.append(UInt8(truncatingIfNeeded: plaintext.count >> (8 * i))) }
        var mac = encrypt(b0)
        for start in stride(from: 0, to: plaintext.count, by: 16) {
            for (i, byte) in plaintext[start..<min(start + 16, plaintext.count)].enumerated() { mac[i] ^= byte }
            mac = encrypt(mac)
        }
        let s0 = encrypt(counterBlock(0))
        var difference: UInt8 = 0
        for i in 0..<tag.count { difference |= (mac[i] ^ s0[i]) ^ tag[i] }
        return difference == 0 ? plaintext : nil
    }

    /// One AES block in the encryption direction. The block is always 16 bytes and the key 16,
    /// the only two things `permute` checks, so it cannot throw here.
    private func encrypt(_ block: [UInt8]) -> [UInt8] {
        var block = block
        try! AES.permute(&block, key: key)
        return block
    }
}
