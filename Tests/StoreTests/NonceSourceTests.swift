import Crypto
import EdgeCore
@testable import Store
import XCTest

/// Nonces for the store's AES-GCM fields come from the injected randomness in batches, each one
/// used once.
final class NonceSourceTests: XCTestCase {
    func testNoncesAreFetchedTwentyOneAtATimeAndEachIsUsedOnce() throws {
        let requests = Locked<[Int]>([])
        let random = CountingRandom()
        let source = NonceSource(random: { count in
            requests.withLock { $0.append(count) }
            return random.function(count)
        })
        let nonces = try (0..<50).map { _ in Array(try source.next()) }
        XCTAssertEqual(nonces.count, 50)
        XCTAssertEqual(Set(nonces).count, 50, "a nonce was used twice")
        XCTAssertTrue(nonces.allSatisfy { $0.count == 12 })
        XCTAssertEqual(requests.withLock { $0 }, [252, 252, 252], "50 nonces need three fetches of 21")
        // The bytes are the randomness in order: no byte is skipped or reused.
        XCTAssertEqual(Array(nonces.joined().prefix(24)), (2...25).map { UInt8($0) })
    }
}
