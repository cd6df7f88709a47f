import EdgeCore
import EdgeCrypto

/// The status page's signed-in sessions, in memory only (a restart signs everyone out): the
/// one owner of the table. A session id is 32 random bytes from the injected source; the table
/// is keyed by its SHA-256, so a lookup's timing says nothing about the ids. Each session has its
/// own CSRF token, which every form of the page posts back.
final class PageSessions: Sendable {
    struct Session: Sendable, Equatable {
        var client: String
        var roles: Set<GatewayConfiguration.Role>
        var csrfToken: String
        var createdAt: Timestamp
        var expiresAt: Timestamp
    }

    /// What signing in hands back: the cookie value and the session.
    struct Started: Sendable {
        var id: String
        var session: Session
    }

    /// Sessions older than this sign in again, whatever their activity.
    let lifetimeMilliseconds: Int64
    /// Bounds memory against a client that signs in in a loop: the oldest session goes first.
    let capacity: Int
    private let random: @Sendable () -> [UInt8]
    private let now: @Sendable () -> Timestamp
    private let table = Locked<[String: Session]>([:])

    static let defaultLifetimeMilliseconds: Int64 = 8 * 3_600_000
    static let defaultCapacity = 256

    /// - Parameter random: 32 unpredictable bytes per call (session ids and CSRF tokens).
    init(
        lifetimeMilliseconds: Int64 = PageSessions.defaultLifetimeMilliseconds, capacity: Int = PageSessions.defaultCapacity,
        random: @escaping @Sendable () -> [UInt8] = PageSessions.systemRandom, now: @escaping @Sendable () -> Timestamp
    ) {
        self.lifetimeMilliseconds = lifetimeMilliseconds
        self.capacity = max(1, capacity)
        self.random = random
        self.now = now
    }

    /// The system's CSPRNG (getrandom on Linux).
    static let systemRandom: @Sendable () -> [UInt8] = { SystemRandom.bytes(32) }

    func start(client: String, roles: Set<GatewayConfiguration.Role>) -> Started {
        let id = Self.token(random())
        let time = now()
        let session = Session(
            client: client, roles: roles, csrfToken: Self.token(random()), createdAt: time,
            expiresAt: time.adding(milliseconds: lifetimeMilliseconds))
        table.withLock { table in
            table = table.filter { $0.value.expiresAt > time }
            while table.count >= capacity, let oldest = table.min(by: { $0.value.createdAt < $1.value.createdAt })?.key {
                table[oldest] = nil
            }
            table[Self.key(id)] = session
        }
        return Started(id: id, session: session)
    }

    /// The live session for a cookie value, or nil (unknown, expired: then it is dropped).
    func session(_ id: String?) -> Session? {
        guard let id, !id.isEmpty, id.utf8.count <= 128 else { return nil }
        let key = Self.key(id)
        let time = now()
        return table.withLock { table in
            guard let session = table[key] else { return nil }
            guard session.expiresAt > time else {
                table[key] = nil
                return nil
            }
            return session
        }
    }

    /// Ends a session (sign-out); true when there was one.
    @discardableResult
    func end(_ id: String?) -> Bool {
        guard let id else { return false }
        return table.withLock { $0.removeValue(forKey: Self.key(id)) != nil }
    }

    var count: Int { table.withLock { $0.count } }

    /// Whether a posted CSRF token is the session's, compared in constant time.
    static func csrfMatches(_ posted: String?, _ expected: String) -> Bool {
        guard let posted else { return false }
        return ClientAuthenticator.constantTimeEqual(Array(posted.utf8), Array(expected.utf8))
    }

    /// Base64url without padding: safe in a cookie and a form field.
    static func token(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for byte in chunk { value = value << 8 | Int(byte) }
            value <<= 8 * (3 - chunk.count)
            for position in 0...chunk.count { output.append(alphabet[(value >> (18 - 6 * position)) & 63]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func key(_ id: String) -> String { SHA256.hexDigest(id) }
}
