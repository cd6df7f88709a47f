import Crypto
import _CryptoExtras

/// The LE security toolbox of the Core specification (Vol 3 Part H §2.2): the AES-128 function `e`,
/// AES-CMAC and the LE Secure Connections functions built on it, plus the legacy `c1`/`s1`.
///
/// Every value is in **wire order** (least significant octet first), exactly as it travels in SMP
/// PDUs and HCI commands; the specification writes the same values most significant octet first, so
/// each function reverses its inputs, works in the specification's order and reverses the result.
enum SecurityFunctions {
    /// `e(key, plaintext)`: one AES-128 block.
    static func e(key: [UInt8], _ plaintext: [UInt8]) -> [UInt8] {
        var block = Array(plaintext.reversed())
        // Sizes are fixed by every caller (16-octet keys and blocks), so this cannot throw.
        try? AES.permute(&block, key: SymmetricKey(data: key.reversed()))
        return block.reversed()
    }

    /// AES-CMAC (RFC 4493) over values given in wire order: the message is the specification's
    /// concatenation, so the octets of `parts` are joined most significant part first.
    static func cmac(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        var message: [UInt8] = []
        for part in parts { message += part.reversed() }
        return cmacMSB(key: key.reversed(), message).reversed()
    }

    /// AES-CMAC on values in the specification's order (most significant octet first).
    static func cmacMSB(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        // A 16-octet key is always valid for AES-128; the fallback only keeps this total.
        guard var mac = try? AES.CMAC(key: SymmetricKey(data: key)) else { return [UInt8](repeating: 0, count: 16) }
        mac.update(data: message)
        return Array(mac.finalize())
    }

    /// `f4(U, V, X, Z)`: the LE Secure Connections confirm value.
    static func f4(u: [UInt8], v: [UInt8], x: [UInt8], z: UInt8) -> [UInt8] {
        cmac(key: x, u, v, [z])
    }

    /// `f5(W, N1, N2, A1, A2)`: the MacKey and the LTK from the DHKey. Addresses are 7 octets:
    /// the 6-octet address in wire order followed by its type (0 public, 1 random).
    static func f5(w: [UInt8], n1: [UInt8], n2: [UInt8], a1: [UInt8], a2: [UInt8]) -> (macKey: [UInt8], ltk: [UInt8]) {
        let salt: [UInt8] = [0x6C, 0x88, 0x83, 0x91, 0xAA, 0xF5, 0xA5, 0x38, 0x60, 0x37, 0x0B, 0xDB, 0x5A, 0x60, 0x83, 0xBE].reversed()
        let t = cmac(key: salt, w)
        let keyID: [UInt8] = [0x65, 0x6C, 0x74, 0x62]  // "btle", wire order
        let length: [UInt8] = [0x00, 0x01]  // 256 bits
        let macKey = cmac(key: t, [0x00], keyID, n1, n2, a1, a2, length)
        let ltk = cmac(key: t, [0x01], keyID, n1, n2, a1, a2, length)
        return (macKey, ltk)
    }

    /// `f6(W, N1, N2, R, IOcap, A1, A2)`: the DHKey check value. `ioCap` is 3 octets in wire order:
    /// IO capability, OOB data flag, AuthReq.
    static func f6(w: [UInt8], n1: [UInt8], n2: [UInt8], r: [UInt8], ioCap: [UInt8], a1: [UInt8], a2: [UInt8]) -> [UInt8] {
        cmac(key: w, n1, n2, r, ioCap, a1, a2)
    }

    /// `g2(U, V, X, Y)`: the six-digit numeric comparison value.
    static func g2(u: [UInt8], v: [UInt8], x: [UInt8], y: [UInt8]) -> UInt32 {
        let mac = cmac(key: x, u, v, y)
        let low = UInt32(mac[0]) | UInt32(mac[1]) << 8 | UInt32(mac[2]) << 16 | UInt32(mac[3]) << 24
        return low % 1_000_000
    }

    /// `ah(k, r)`: the random address hash that resolves a resolvable private address with an IRK.
    static func ah(irk: [UInt8], prand: [UInt8]) -> [UInt8] {
        let padded = prand + [UInt8](repeating: 0, count: 13)
        return Array(e(key: irk, padded).prefix(3))
    }

    /// `h6(W, keyID)`: key conversion (LTK ↔ link key derivation).
    static func h6(w: [UInt8], keyID: [UInt8]) -> [UInt8] {
        cmac(key: w, keyID)
    }

    /// `h7(SALT, W)`: key conversion with a salt (CT2 key derivation).
    static func h7(salt: [UInt8], w: [UInt8]) -> [UInt8] {
        cmac(key: salt, w)
    }

    /// Legacy pairing's confirm value `c1(k, r, preq, pres, iat, ia, rat, ra)`.
    static func c1(
        k: [UInt8], r: [UInt8], preq: [UInt8], pres: [UInt8],
        initiatorType: UInt8, initiator: [UInt8], responderType: UInt8, responder: [UInt8]
    ) -> [UInt8] {
        // p1 = pres || preq || rat || iat and p2 = padding || ia || ra, most significant first.
        let p1 = [initiatorType, responderType] + preq + pres
        let p2 = responder + initiator + [0, 0, 0, 0]
        let first = e(key: k, zip(r, p1).map { $0 ^ $1 })
        return e(key: k, zip(first, p2).map { $0 ^ $1 })
    }

    /// Legacy pairing's short-term key `s1(k, r1, r2)`: the low halves of both randoms.
    static func s1(k: [UInt8], r1: [UInt8], r2: [UInt8]) -> [UInt8] {
        e(key: k, Array(r2.prefix(8)) + Array(r1.prefix(8)))
    }
}
