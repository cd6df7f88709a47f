import EdgeCore
import Crypto
import FoundationEssentials

/// The key-encryption key (KEK) of a store: 256 bits that never enter the database. It wraps
/// the store's data key, which encrypts the rows (`FieldCipher`).
package struct KeyEncryptionKey: Sendable {
    let key: SymmetricKey
    /// Where it came from (`key file /etc/fhir-edge/store.key`), for messages; never the key.
    package let source: String

    /// From 32 raw bytes, 64 hexadecimal digits or the base64 of 32 bytes (surrounding
    /// whitespace ignored), as a key file, an environment variable or a credential holds it.
    package init(material: [UInt8], source: String) throws(StoreError) {
        self.source = source
        if material.count == 32 {
            key = SymmetricKey(data: material)
            return
        }
        let text = String(decoding: material, as: UTF8.self).trimmingWhitespace
        if let bytes = Self.hex(text) ?? Data(base64Encoded: text).map([UInt8].init), bytes.count == 32 {
            key = SymmetricKey(data: bytes)
            return
        }
        throw StoreError(.keyUnavailable,
            "the key is not 256 bits (expected 32 bytes, 64 hex digits or base64 of 32 bytes; create one with `openssl rand -hex 32`)",
            location: source)
    }

    /// A short public name of the key: the first 8 bytes of HMAC-SHA256(key, "fhir-edge key id")
    /// in hex. Recorded beside the wrapped data key so a wrong key is named as such.
    package var id: String {
        Self.keyID(key)
    }

    static func keyID(_ key: SymmetricKey) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("fhir-edge key id".utf8), using: key)
        return Hex.string(mac.prefix(8))
    }

    /// 64 hexadecimal digits for a new key file, from `random` (injected by tests).
    package static func newKeyText(random: @Sendable (Int) -> [UInt8] = StoreEncryption.systemRandom) -> String {
        Hex.string(random(32)) + "\n"
    }

    private static func hex(_ text: String) -> [UInt8]? {
        text.utf8.count == 64 ? Hex.bytes(text) : nil
    }
}

/// What a store is opened with to encrypt patient data at rest: the KEK and the randomness for
/// new data keys and per-row nonces (injected so tests are deterministic).
package struct StoreEncryption: Sendable {
    package var keyEncryptionKey: KeyEncryptionKey
    package var random: @Sendable (Int) -> [UInt8]

    package init(keyEncryptionKey: KeyEncryptionKey, random: @escaping @Sendable (Int) -> [UInt8] = StoreEncryption.systemRandom) {
        self.keyEncryptionKey = keyEncryptionKey
        self.random = random
    }

    /// The operating system's CSPRNG (getrandom on Linux).
    package static let systemRandom: @Sendable (Int) -> [UInt8] = { SystemRandom.bytes($0) }
}

/// Whether a store file holds encrypted rows, for start-up decisions (creating a key file).
package enum StoreEncryptionState: Sendable, Equatable {
    /// No database at the path.
    case absent
    /// A store whose rows are in clear (created before encryption, or without a key).
    case clear
    /// Rows encrypted under a data key wrapped by the KEK with this id.
    case encrypted(keyID: String)
}

/// Encrypts and decrypts the patient-data columns of one store with its data key, and computes
/// the keyed hashes that stand in for identifiers in indexed columns.
///
/// A sealed field is `0x01 || nonce (12) || ciphertext || tag (16)`, AES-256-GCM with a random
/// nonce per write and `table/rowid` (or the row's key) as associated data, so a ciphertext
/// copied to another row or table fails to open.
struct FieldCipher: Sendable {
    static let version: UInt8 = 1
    let dataKey: SymmetricKey
    let indexKey: SymmetricKey
    private let nonces: NonceSource

    init(dataKey: SymmetricKey, random: @escaping @Sendable (Int) -> [UInt8]) {
        self.dataKey = dataKey
        self.indexKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: dataKey, info: Data("fhir-edge store index v1".utf8), outputByteCount: 32)
        self.nonces = NonceSource(random: random)
    }

    /// `version ‖ nonce ‖ ciphertext ‖ tag`: the version byte, then AES-GCM's combined form.
    func seal(_ plaintext: some DataProtocol, _ place: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: dataKey, nonce: nonces.next(), authenticating: Data(place.utf8))
        // A 12-byte nonce always has a combined form.
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        var sealed = Data(capacity: 1 + combined.count)
        sealed.append(Self.version)
        sealed.append(combined)
        return sealed
    }

    /// Opens a field sealed for `place`; a field of another row, an altered one or one sealed
    /// under another data key throws `.corruptRow` naming the place.
    func open(_ sealed: Data?, _ place: String) throws -> Data {
        guard let sealed, sealed.count >= 29, sealed.first == Self.version else {
            throw StoreError(.corruptRow, "an encrypted field is missing or not in fhir-edge's format", location: place)
        }
        do {
            let start = sealed.startIndex
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: sealed[(start + 1)..<(start + 13)]),
                ciphertext: sealed[(start + 13)..<(sealed.endIndex - 16)], tag: sealed[(sealed.endIndex - 16)...])
            return try AES.GCM.open(box, using: dataKey, authenticating: Data(place.utf8))
        } catch {
            throw StoreError(.corruptRow,
                "an encrypted field does not authenticate: it was altered, moved from another row, or sealed under another data key",
                location: place)
        }
    }

    /// HMAC-SHA256 of `value` under the index key, hex: equal values give equal hashes, so
    /// equality lookups and indexes keep working without the clear value on disk.
    func index(_ value: String) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: indexKey))
    }

    /// A new random data key.
    static func newDataKey(random: @Sendable (Int) -> [UInt8]) -> SymmetricKey {
        SymmetricKey(data: random(32))
    }

    /// The data key wrapped (RFC 3394) under the KEK, as stored in `store_meta`: `<kek id>:<base64>`.
    static func wrap(_ dataKey: SymmetricKey, with kek: KeyEncryptionKey) throws -> String {
        let wrapped = try AES.KeyWrap.wrap(dataKey, using: kek.key)
        return kek.id + ":" + wrapped.base64EncodedString()
    }

    static func unwrap(_ text: String, with kek: KeyEncryptionKey, store: String) throws(StoreError) -> SymmetricKey {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let wrapped = Data(base64Encoded: parts[1]) else {
            throw StoreError(.corruptRow, "the stored data key is not in fhir-edge's format", location: store + " (store_meta data_key)")
        }
        guard let key = try? AES.KeyWrap.unwrap(wrapped, using: kek.key) else {
            throw StoreError(.wrongKey,
                "the key from \(kek.source) (id \(kek.id)) does not open this store, whose data key is wrapped by key id \(parts[0]); "
                    + "give the store's own key (nothing was changed)",
                location: store)
        }
        return key
    }
}

/// Outbox bodies keep their identity inside the ciphertext (the indexed column holds its keyed
/// hash): `UInt32 big-endian length || identity || body`.
enum OutboxPlaintext {
    static func pack(identity: String, body: some Collection<UInt8>) -> Data {
        var data = Data()
        let count = UInt32(identity.utf8.count)
        data.append(contentsOf: [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)])
        data.append(contentsOf: identity.utf8)
        data.append(contentsOf: body)
        return data
    }

    static func unpack(_ data: Data, _ place: String) throws -> (identity: String, body: Data) {
        let bytes = [UInt8](data)
        guard bytes.count >= 4 else { throw StoreError(.corruptRow, "an outbox body is truncated", location: place) }
        let count = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard bytes.count >= 4 + count else { throw StoreError(.corruptRow, "an outbox body is truncated", location: place) }
        return (String(decoding: bytes[4..<(4 + count)], as: UTF8.self), Data(bytes[(4 + count)...]))
    }
}

/// Random 96-bit nonces, taken from the injected randomness 21 at a time (252 bytes, within one
/// `getentropy` call): a system call for each sealed field cost a tenth of sealing it. Nonces
/// are stored beside their ciphertext, so holding the next few in memory reveals nothing.
final class NonceSource: Sendable {
    static let perFetch = 21
    private let random: @Sendable (Int) -> [UInt8]
    private let buffer = Locked<(bytes: [UInt8], offset: Int)>(([], 0))

    init(random: @escaping @Sendable (Int) -> [UInt8]) {
        self.random = random
    }

    func next() throws -> AES.GCM.Nonce {
        let bytes = buffer.withLock { buffer in
            if buffer.offset + 12 > buffer.bytes.count {
                buffer = (random(12 * Self.perFetch), 0)
            }
            defer { buffer.offset += 12 }
            return buffer.bytes[buffer.offset..<(buffer.offset + 12)]
        }
        return try AES.GCM.Nonce(data: bytes)
    }
}
