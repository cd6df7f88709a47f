import EdgeCore
import Foundation
import Upstream
import XCTest

/// A token endpoint and FHIR server in memory: answers token requests from a script and counts them.
final class ScriptedTokenTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [UpstreamRequest] = []
    private var replies: [Result<UpstreamResponse, UpstreamTransportError>]
    let tokenURL: String
    /// Answers to non-token requests: 401 unless the bearer token is in `acceptedTokens`.
    var acceptedTokens: Set<String> = []

    init(tokenURL: String = "https://login.example.org/token", replies: [Result<UpstreamResponse, UpstreamTransportError>] = []) {
        self.tokenURL = tokenURL
        self.replies = replies
    }

    var requests: [UpstreamRequest] { lock.withLock { _requests } }
    var tokenRequests: [UpstreamRequest] { requests.filter { $0.url == tokenURL } }

    static func token(_ value: String, expiresIn: Int = 3600) -> Result<UpstreamResponse, UpstreamTransportError> {
        .success(UpstreamResponse(
            status: 200, headers: ["Content-Type": "application/json"],
            body: Array(#"{"access_token":"\#(value)","token_type":"Bearer","expires_in":\#(expiresIn)}"#.utf8)))
    }

    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        let next: Result<UpstreamResponse, UpstreamTransportError>? = lock.withLock {
            _requests.append(request)
            guard request.url == tokenURL else { return nil }
            return replies.isEmpty ? .success(UpstreamResponse(status: 500)) : replies.removeFirst()
        }
        if let next { return try next.get() }
        let presented = request.headers["Authorization"].map { String($0.dropFirst("Bearer ".count)) }
        let accepted = lock.withLock { presented.map(acceptedTokens.contains) ?? false }
        return UpstreamResponse(status: accepted ? 200 : 401)
    }
}

/// Keys made by the openssl command line for each test run (nothing secret is committed).
enum TestKeys {
    static func make(in directory: URL) throws -> URL? {
        guard let openssl = ["/usr/bin/openssl", "/bin/openssl", "/usr/local/bin/openssl"].first(where: FileManager.default.isExecutableFile) else {
            print("SKIP: openssl not found; client assertion signature tests need it to make and check keys")
            return nil
        }
        let commands: [[String]] = [
            ["genrsa", "-traditional", "-out", "rsa-pkcs1.pem", "2048"],
            ["pkcs8", "-topk8", "-nocrypt", "-in", "rsa-pkcs1.pem", "-out", "rsa-pkcs8.pem"],
            ["rsa", "-in", "rsa-pkcs1.pem", "-pubout", "-out", "rsa-public.pem"],
            ["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "ec-sec1.pem"],
            ["pkcs8", "-topk8", "-nocrypt", "-in", "ec-sec1.pem", "-out", "ec-pkcs8.pem"],
            ["ec", "-in", "ec-sec1.pem", "-pubout", "-out", "ec-public.pem"],
            ["genrsa", "-traditional", "-out", "rsa1024.pem", "1024"],
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec256.pem"],
            ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:x", "-in", "rsa-pkcs1.pem", "-out", "rsa-encrypted.pem"],
        ]
        for arguments in commands {
            let status = try run(openssl, arguments, in: directory)
            guard status == 0 else { throw NSError(domain: "openssl \(arguments.joined(separator: " "))", code: Int(status)) }
        }
        return URL(fileURLWithPath: openssl)
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: URL) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// The parts of a compact JWS.
struct DecodedJWT {
    var header: [String: Any]
    var claims: [String: Any]
    /// The claims as sent, to check how numbers are written.
    var claimsText: String
    var signingInput: String
    var signature: Data

    init(_ text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { throw NSError(domain: "not a compact JWS", code: 1) }
        func bytes(_ part: String) throws -> Data {
            var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while base64.count % 4 != 0 { base64 += "=" }
            guard let data = Data(base64Encoded: base64) else { throw NSError(domain: "bad base64url", code: 2) }
            return data
        }
        header = try JSONSerialization.jsonObject(with: bytes(parts[0])) as? [String: Any] ?? [:]
        claims = try JSONSerialization.jsonObject(with: bytes(parts[1])) as? [String: Any] ?? [:]
        claimsText = String(decoding: try bytes(parts[1]), as: UTF8.self)
        signingInput = parts[0] + "." + parts[1]
        signature = try bytes(parts[2])
    }

    /// An ECDSA `r || s` signature as the DER SEQUENCE openssl verifies.
    static func derFromRaw(_ raw: Data) -> Data {
        func integer(_ bytes: Data) -> Data {
            var trimmed = Data(bytes.drop { $0 == 0 })
            if trimmed.isEmpty { trimmed = Data([0]) }
            if trimmed[trimmed.startIndex] & 0x80 != 0 { trimmed.insert(0, at: 0) }
            return Data([0x02, UInt8(trimmed.count)]) + trimmed
        }
        let half = raw.count / 2
        let body = integer(raw.prefix(half)) + integer(raw.suffix(half))
        return Data([0x30, UInt8(body.count)]) + body
    }
}
