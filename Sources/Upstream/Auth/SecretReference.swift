import EdgeCore
import EdgeSystem
import FoundationEssentials

/// Where a secret lives: a file (`secretFile: PATH`) or an environment variable
/// (`secretEnv: NAME`). The secret itself never appears in configuration, logs or errors;
/// `keyPath` names the configuration key so that a missing secret is reported where it is set.
package struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    package enum Source: Sendable, Hashable {
        case file(String)
        case environment(String)
    }

    package var source: Source
    /// The configuration key that names this secret, e.g. `upstream.auth.clientSecret`.
    package var keyPath: String

    package init(_ source: Source, keyPath: String) {
        self.source = source
        self.keyPath = keyPath
    }

    package static func file(_ path: String, keyPath: String) -> SecretReference {
        SecretReference(.file(path), keyPath: keyPath)
    }

    package static func environment(_ name: String, keyPath: String) -> SecretReference {
        SecretReference(.environment(name), keyPath: keyPath)
    }

    /// Where, never what: `upstream.auth.clientSecret (file /etc/fhir-edge/secret)`.
    package var description: String {
        switch source {
        case .file(let path): "\(keyPath) (file \(path))"
        case .environment(let name): "\(keyPath) (environment variable \(name))"
        }
    }
}

/// Reads secrets; the process environment and file system in production, dictionaries in tests.
package struct SecretResolver: Sendable {
    let environment: @Sendable (String) -> String?
    let readFile: @Sendable (String) -> [UInt8]?
    /// The permission bits of a file, when the resolver reads a real file system.
    let fileMode: @Sendable (String) -> UInt16?

    package init(
        environment: @escaping @Sendable (String) -> String?, readFile: @escaping @Sendable (String) -> [UInt8]?,
        fileMode: @escaping @Sendable (String) -> UInt16? = { _ in nil }
    ) {
        self.environment = environment
        self.readFile = readFile
        self.fileMode = fileMode
    }

    /// The process environment and the file system.
    package static let process = SecretResolver(
        environment: { ProcessInfo.processInfo.environment[$0] },
        readFile: { path in FileManager.default.contents(atPath: path).map { [UInt8]($0) } },
        fileMode: { path in
            FileStatus(path: path)?.permissions
        })

    /// Other users may not read or write a secret, nor its group write it: `root:fhir-edge 0640`
    /// (what the package installs) and `0600` pass.
    static func exposure(ofMode mode: UInt16) -> String? {
        if mode & 0o007 != 0 { return "readable or writable by every user" }
        if mode & 0o020 != 0 { return "writable by its group" }
        return nil
    }

    /// Fixed values, for tests and for secrets handed over in memory.
    package static func fixed(environment: [String: String] = [:], files: [String: String] = [:]) -> SecretResolver {
        SecretResolver(environment: { environment[$0] }, readFile: { files[$0].map { Array($0.utf8) } })
    }

    /// The raw bytes of the secret.
    package func bytes(_ reference: SecretReference) throws(UpstreamAuthError) -> [UInt8] {
        switch reference.source {
        case .file(let path):
            if let mode = fileMode(path), let exposure = Self.exposure(ofMode: mode) {
                throw UpstreamAuthError(.exposedSecret, "\(reference.keyPath): the secret file \(path) is \(exposure) (mode \(String(mode, radix: 8))); chmod 600 it (or 640 with the gateway's group)")
            }
            guard let bytes = readFile(path) else {
                throw UpstreamAuthError(.missingSecret, "\(reference.keyPath): cannot read the secret file \(path); check the path and its permissions")
            }
            guard !bytes.isEmpty else {
                throw UpstreamAuthError(.missingSecret, "\(reference.keyPath): the secret file \(path) is empty")
            }
            return bytes
        case .environment(let name):
            guard let value = environment(name) else {
                throw UpstreamAuthError(.missingSecret, "\(reference.keyPath): the environment variable \(name) is not set")
            }
            guard !value.isEmpty else {
                throw UpstreamAuthError(.missingSecret, "\(reference.keyPath): the environment variable \(name) is empty")
            }
            return Array(value.utf8)
        }
    }

    /// The secret as one line of text: surrounding whitespace and the final newline that editors
    /// add to files are not part of a token or password.
    package func text(_ reference: SecretReference) throws(UpstreamAuthError) -> String {
        let text = String(decoding: try bytes(reference), as: UTF8.self).trimmingWhitespace
        guard !text.isEmpty else {
            throw UpstreamAuthError(.missingSecret, "\(reference) holds only whitespace")
        }
        guard !text.contains(where: { $0 == "\n" || $0 == "\r" }) else {
            throw UpstreamAuthError(.invalidSecret, "\(reference) holds several lines; expected the secret alone on one line")
        }
        return text
    }
}

/// Why credentials could not be obtained. Messages name configuration keys, files, variables
/// and token endpoints, never secret values.
package struct UpstreamAuthError: CodedError, Hashable, Sendable {
    package struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        package let rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// A secret file or environment variable is missing or empty.
        package static let missingSecret = Code(rawValue: "missing-secret")
        /// A secret file other users may read or change.
        package static let exposedSecret = Code(rawValue: "exposed-secret")
        /// A secret is present but unusable (e.g. a PEM file that holds no supported key).
        package static let invalidSecret = Code(rawValue: "invalid-secret")
        /// The token endpoint could not be reached.
        package static let tokenEndpointUnreachable = Code(rawValue: "token-endpoint-unreachable")
        /// The token endpoint refused the client (4xx), e.g. `invalid_client`.
        package static let tokenRefused = Code(rawValue: "token-refused")
        /// The token endpoint failed (5xx) or answered something that is not a token.
        package static let tokenEndpointFailed = Code(rawValue: "token-endpoint-failed")
    }

    package var code: Code
    package var message: String
    /// The transport or parsing failure underneath; never part of equality.
    package var cause: (any Error)?

    package init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    package var description: String { message }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
