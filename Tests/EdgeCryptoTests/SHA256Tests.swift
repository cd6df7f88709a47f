import EdgeCore
import EdgeCrypto
import XCTest

final class SHA256Tests: XCTestCase {
    // FIPS 180-2 / NIST CSRC example vectors.
    func testEmpty() {
        XCTAssertEqual(SHA256.hexDigest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testABC() {
        XCTAssertEqual(SHA256.hexDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func test448Bit() {
        XCTAssertEqual(
            SHA256.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
    }

    func testOneMillionA() {
        var hasher = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        XCTAssertEqual(Hex.string(hasher.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        XCTAssertEqual(
            Hex.string(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    func testStreamingMatchesOneShotAtEveryBoundary() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300] {
            let whole = SHA256.hash(bytes.prefix(length))
            for split in Set([0, 1, length / 2, max(0, length - 1), length]) where split <= length {
                var hasher = SHA256()
                hasher.update(bytes[0..<split])
                hasher.update(bytes[split..<length])
                XCTAssertEqual(hasher.finalize(), whole, "length \(length) split \(split)")
            }
        }
    }

    func testFinalizeDoesNotConsumeState() {
        var hasher = SHA256()
        hasher.update(Array("ab".utf8))
        _ = hasher.finalize()
        hasher.update(Array("c".utf8))
        XCTAssertEqual(Hex.string(hasher.finalize()), SHA256.hexDigest("abc"))
    }

    func testNonContiguousSequence() {
        XCTAssertEqual(SHA256.hash("abc".utf8.lazy.map { $0 }), SHA256.hash(Array("abc".utf8)))
    }
}
