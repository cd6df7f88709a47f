import EdgeCore
@testable import Bluetooth
import XCTest

/// The LE security toolbox against published sample data.
///
/// Sources: the Bluetooth Core specification, Vol 3 Part H Appendix D ("Sample data"), as the Linux
/// kernel's `net/bluetooth/smp.c` self-tests and BlueZ's `unit/test-ecc.c` write it: every value
/// here is in wire order (least significant octet first), the order the spec's values reverse to.
/// AES-CMAC also against RFC 4493 §4 (written most significant octet first, as in the RFC).
final class SecurityFunctionsTests: XCTestCase {
    // Appendix D's shared inputs.
    static let debugPrivateKey = hex("bd1a3ccda6b89958 99b740eb7b60ff4a 503f10d2e3b3c974 385fc5a3d4f6493f")
    static let debugPublicKey = hex("""
        e69d350e480103cc dbfdf4ac1191f4ef b9a5f9e9a7832c5e 2cbe97f2d203b020
        8bd28915d08e1c74 2430ed8fc2456376 5c15525abf9a3263 6deb2a65499c80dc
        """)
    static let u = hex("e69d350e480103cc dbfdf4ac1191f4ef b9a5f9e9a7832c5e 2cbe97f2d203b020")
    static let v = hex("fdc57ff449dd4f6b fb7c9df1c29acb59 2ae7d4eefbfc0a90 9abbf6323d8b1855")
    static let n1 = hex("abae2b71ecb2ffff 3e7377d15484cbd5")
    static let n2 = hex("cfc43dfff7836521 6e5fa725cce7e8a6")
    static let dhKey = hex("98a6bf73f3348d86 f166f8b4136b7999 9b7d390aa6101034 05adc857a33402ec")
    static let a1 = hex("cebf3737125600")
    static let a2 = hex("c1cf2d7013a700")

    func testAESCMACMatchesRFC4493() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c")
        let message = hex("""
            6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
            30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710
            """)
        XCTAssertEqual(SecurityFunctions.cmacMSB(key: key, []), hex("bb1d6929e95937287fa37d129b756746"))
        XCTAssertEqual(SecurityFunctions.cmacMSB(key: key, Array(message.prefix(16))), hex("070a16b46b4d4144f79bdd9dd04a287c"))
        XCTAssertEqual(SecurityFunctions.cmacMSB(key: key, Array(message.prefix(40))), hex("dfa66747de9ae63030ca32611497c827"))
        XCTAssertEqual(SecurityFunctions.cmacMSB(key: key, message), hex("51f0bebf7e3b9d92fc49741779363cfe"))
    }

    func testF4() {
        let x = Self.n1
        XCTAssertEqual(SecurityFunctions.f4(u: Self.u, v: Self.v, x: x, z: 0), hex("2d8774a9bea1edf1 1cbda907f116c9f2"))
    }

    func testF5() {
        let (macKey, ltk) = SecurityFunctions.f5(w: Self.dhKey, n1: Self.n1, n2: Self.n2, a1: Self.a1, a2: Self.a2)
        XCTAssertEqual(macKey, hex("206e63ce206a3ffd 024a08a176f16529"))
        XCTAssertEqual(ltk, hex("380a7594b5220598 23cdd76911798669"))
    }

    func testF6() {
        let check = SecurityFunctions.f6(
            w: hex("206e63ce206a3ffd 024a08a176f16529"), n1: Self.n1, n2: Self.n2,
            r: hex("c80f2d0cd242da08 54bb53b43b34a312"), ioCap: [0x02, 0x01, 0x01], a1: Self.a1, a2: Self.a2)
        XCTAssertEqual(check, hex("618f95da090b6cd2 c5e8d09c9873c4e3"))
    }

    func testG2() {
        XCTAssertEqual(SecurityFunctions.g2(u: Self.u, v: Self.v, x: Self.n1, y: Self.n2), 0x2f9e_d5ba % 1_000_000)
    }

    func testH6() {
        XCTAssertEqual(
            SecurityFunctions.h6(w: hex("9b7d390aa6101034 05adc857a33402ec"), keyID: [0x72, 0x62, 0x65, 0x6c]),
            hex("9963b180e2a9d3e8 1cc96de702e19a2d"))
    }

    func testAhResolvesTheSampleAddressHash() {
        XCTAssertEqual(SecurityFunctions.ah(irk: hex("9b7d390aa6101034 05adc857a33402ec"), prand: [0x94, 0x81, 0x70]), [0xaa, 0xfb, 0x0d])
    }

    func testLegacyC1AndS1() {
        let zero = [UInt8](repeating: 0, count: 16)
        let confirm = SecurityFunctions.c1(
            k: zero, r: hex("e02e70c64e278863 0e6fad5621d58357"),
            preq: hex("01010000100707"), pres: hex("02030000080005"),
            initiatorType: 1, initiator: hex("a6a5a4a3a2a1"), responderType: 0, responder: hex("b6b5b4b3b2b1"))
        XCTAssertEqual(confirm, hex("863bf1bec54da7d2 ea888987ef3f1e1e"))
        let stk = SecurityFunctions.s1(k: zero, r1: hex("8877665544332211") + [UInt8](repeating: 0, count: 8), r2: hex("00ffeeddccbbaa99") + [UInt8](repeating: 0, count: 8))
        XCTAssertEqual(stk, hex("62a06d79ae16425b 9bf4b0e8f0e11f9a"))
    }

    func testDebugKeyPairGivesTheSpecificationsPublicKey() throws {
        let pair = try PairingKeyPair(privateKeyWireOrder: Self.debugPrivateKey)
        XCTAssertEqual(pair.publicKey, Self.debugPublicKey)
    }

    func testDHKeySampleData() throws {
        // BlueZ unit/test-ecc.c sample 1 (the spec's debug key as A) and sample 2.
        let samples: [(privateA: String, privateB: String, publicA: String, publicB: String, dhKey: String)] = [
            (
                "bd1a3ccda6b89958 99b740eb7b60ff4a 503f10d2e3b3c974 385fc5a3d4f6493f",
                "fdc57ff449dd4f6b fb7c9df1c29acb59 2ae7d4eefbfc0a90 9abbf6323d8b1855",
                "e69d350e480103cc dbfdf4ac1191f4ef b9a5f9e9a7832c5e 2cbe97f2d203b020 8bd28915d08e1c74 2430ed8fc2456376 5c15525abf9a3263 6deb2a65499c80dc",
                "90a1aa2fb2779055 9fa61586fd8ab547 004c9ef184225909 961daf1ff0f0a11e 4a21b115f9af895f 76368ee230112d47 6051b89a3a705673 37ad9d423ef3554c",
                "98a6bf73f3348d86 f166f8b4136b7999 9b7d390aa6101034 05adc857a33402ec"
            ),
            (
                "637645d0f773acb7 ffdd0372b97285b4 41b65d0c5d548460 1aa39a3c6916a506",
                "ba30555019a2caa3 a52908c6b503887e 032b5073d42e5097 64cd720d67a09a52",
                "dd785c74039b7e98 cb94874aadfaf8d5 433e5cafeab54cf4 9e8079577ba4312c 4f5d71437743f8ea d43ebd17911021d0 1f87438e40e252cd bedf983818129591",
                "cc0065e1f56c0dcf ec96472066c9db84 8175a84dc0dfc79d 1b3f3df23fe465f4 79b2ecd8ca55a1a8 434d6bca10b0c201 c2334e1624c4efee 99d8bbbc48d00102",
                "69eb2132f2c60541 6019cd5e94e1e65f 3307e3384b68e562 3f886d2f3a8485ab"
            ),
        ]
        for sample in samples {
            let a = try PairingKeyPair(privateKeyWireOrder: hex(sample.privateA))
            let b = try PairingKeyPair(privateKeyWireOrder: hex(sample.privateB))
            XCTAssertEqual(a.publicKey, hex(sample.publicA))
            XCTAssertEqual(b.publicKey, hex(sample.publicB))
            XCTAssertEqual(a.dhKey(peerPublicKey: b.publicKey), hex(sample.dhKey))
            XCTAssertEqual(b.dhKey(peerPublicKey: a.publicKey), hex(sample.dhKey))
        }
    }

    func testAPublicKeyOffTheCurveGivesNoDHKey() throws {
        let pair = try PairingKeyPair(privateKeyWireOrder: Self.debugPrivateKey)
        var tampered = Self.debugPublicKey
        tampered[40] ^= 0x01
        XCTAssertNil(pair.dhKey(peerPublicKey: tampered))
        XCTAssertNil(pair.dhKey(peerPublicKey: [UInt8](repeating: 0, count: 64)))
        XCTAssertNil(pair.dhKey(peerPublicKey: Array(Self.debugPublicKey.prefix(63))))
    }
}

/// Octets from hex text; spaces and newlines are ignored.
func hex(_ text: String) -> [UInt8] {
    Hex.bytes(text.filter { !$0.isWhitespace })!
}
