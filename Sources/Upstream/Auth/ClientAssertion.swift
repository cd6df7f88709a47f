import Crypto
import EdgeCore
import JSONQuery
import _CryptoExtras

/// A JWS algorithm SMART Backend Services allows for client assertions.
package enum ClientAssertionAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    case rs384 = "RS384"
    /// ECDSA on P-384 with SHA-384.
    case es384 = "ES384"
}

/// A private key read from PEM: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1
/// (`RSA PRIVATE KEY`). Encrypted keys are refused with a message that says how to convert them.
struct AssertionSigningKey: Sendable {
    enum Key: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
    }

    let key: Key

    var algorithm: ClientAssertionAlgorithm {
        switch key {
        case .rsa: .rs384
        case .p384: .es384
        }
    }

    /// `origin` names the configuration key and file for messages.
    init(pem: String, origin: String) throws(UpstreamAuthError) {
        if pem.contains("ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED") {
            throw UpstreamAuthError(
                .invalidSecret,
                "\(origin): the private key is encrypted; store it unencrypted with restrictive permissions (openssl pkcs8 -topk8 -nocrypt)")
        }
        if pem.contains("BEGIN RSA PRIVATE KEY") {
            self.key = .rsa(try Self.rsa(pem: pem, origin: origin, format: "PKCS#1"))
        } else if pem.contains("BEGIN EC PRIVATE KEY") {
            guard let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) else {
                throw UpstreamAuthError(.invalidSecret, "\(origin): not a P-384 EC private key; ES384 needs the secp384r1 curve")
            }
            self.key = .p384(key)
        } else if pem.contains("BEGIN PRIVATE KEY") {
            if (try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem)) != nil {
                self.key = .rsa(try Self.rsa(pem: pem, origin: origin, format: "PKCS#8"))
            } else if let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) {
                self.key = .p384(key)
            } else {
                throw UpstreamAuthError(.invalidSecret, "\(origin): the PKCS#8 key is neither RSA nor EC P-384")
            }
        } else {
            throw UpstreamAuthError(
                .invalidSecret, "\(origin): expected a PEM private key (BEGIN PRIVATE KEY, BEGIN EC PRIVATE KEY or BEGIN RSA PRIVATE KEY)")
        }
    }

    /// An RSA key of at least 2048 bits; smaller keys are read only to say why they are refused.
    private static func rsa(pem: String, origin: String, format: String) throws(UpstreamAuthError) -> _RSA.Signing.PrivateKey {
        if let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) { return key }
        if let weak = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem) {
            throw UpstreamAuthError(.invalidSecret, "\(origin): the RSA key has \(weak.keySizeInBits) bits; at least 2048 are required")
        }
        throw UpstreamAuthError(.invalidSecret, "\(origin): not a readable \(format) RSA private key")
    }

    /// The JWS signature of `input`: PKCS#1 v1.5 for RSA, the fixed-size `r || s` for ECDSA.
    func sign(_ input: [UInt8]) throws(UpstreamAuthError) -> [UInt8] {
        do {
            switch key {
            case .rsa(let rsa):
                let signature = try rsa.signature(for: SHA384.hash(data: input), padding: .insecurePKCS1v1_5)
                return [UInt8](signature.rawRepresentation)
            case .p384(let ec):
                return [UInt8](try ec.signature(for: input).rawRepresentation)
            }
        } catch {
            throw UpstreamAuthError(.invalidSecret, "the private key could not sign the client assertion: \(error)", cause: error)
        }
    }
}

/// Builds the signed JWT a SMART Backend Services client presents as `client_assertion`:
/// `iss` = `sub` = client id, `aud` = token URL, a random `jti`, and an integer `exp` at most
/// five minutes ahead (servers reject fractional or more distant expiries).
struct ClientAssertionBuilder: Sendable {
    static let maximumLifetimeSeconds: Int64 = 300

    let clientID: String
    let tokenURL: String
    let keyID: String
    let signingKey: AssertionSigningKey
    /// Seconds the assertion is valid; capped at five minutes.
    let lifetimeSeconds: Int64

    init(clientID: String, tokenURL: String, keyID: String, signingKey: AssertionSigningKey, lifetimeSeconds: Int64 = 240) {
        self.clientID = clientID
        self.tokenURL = tokenURL
        self.keyID = keyID
        self.signingKey = signingKey
        self.lifetimeSeconds = min(max(1, lifetimeSeconds), Self.maximumLifetimeSeconds)
    }

    /// `now` is rounded down to whole seconds; `jti` must be unique per assertion.
    func assertion(now: Timestamp, jti: String) throws(UpstreamAuthError) -> String {
        let issuedAt = now.millisecondsSinceEpoch / 1000 - (now.millisecondsSinceEpoch % 1000 < 0 ? 1 : 0)
        let header: JSONValue = [
            "alg": .string(signingKey.algorithm.rawValue), "typ": "JWT", "kid": .string(keyID),
        ]
        let claims: JSONValue = [
            "iss": .string(clientID), "sub": .string(clientID), "aud": .string(tokenURL),
            "exp": .int(issuedAt + lifetimeSeconds), "iat": .int(issuedAt), "jti": .string(jti),
        ]
        let writer = JSONWriter()
        let signingInput = Base64URL.encode(Array(writer.string(header).utf8)) + "." + Base64URL.encode(Array(writer.string(claims).utf8))
        let signature = try signingKey.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }
}

/// Base64 with the URL-safe alphabet and no padding (RFC 7515 section 2).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(alphabet[Int(chunk >> 6 & 63)])
            out.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let chunk = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
        } else if rest == 2 {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(alphabet[Int(chunk >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for characters outside the URL-safe alphabet or an impossible length.
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        return bits >= 6 ? nil : out
    }
}
