import EdgeCore
import EdgeCrypto

/// The resource ids MedTech's conventions give, computed offline: the mapping names resources
/// with them and the uploader reads them back, so they live apart from both.
package enum ResourceIds {
    /// The Observation identifier system upstream uses.
    package static let connectorSystem = "https://azure.microsoft.com/en-us/services/iomt-fhir-connector/"

    /// Deterministic resource id: lowercase hex SHA-256 of `{system}_{value}` (missing system = "").
    package static func hashedId(system: String?, value: String) -> String {
        // Streamed in three parts rather than concatenated: this runs for every Observation.
        var hasher = SHA256()
        if let system { hasher.update(system.utf8) }
        hasher.update("_".utf8)
        hasher.update(value.utf8)
        return hasher.hexDigest()
    }

    /// What a Lookup-mode Observation carries in place of the Patient and Device ids until the
    /// uploader has asked the server: `lookup:` and the hex of `{system}|{deviceId}`. The colon
    /// cannot occur in a FHIR id, so a placeholder is never mistaken for a server's id, and a
    /// server refuses one that slipped through rather than storing a dangling reference.
    package static func lookupPlaceholder(deviceSystem: String?, deviceId: String) -> String {
        lookupPrefix + Hex.string(((deviceSystem ?? "") + "|" + deviceId).utf8)
    }

    /// The Device identifier a `lookupPlaceholder` stands for; nil for anything else.
    package static func lookupDevice(placeholder: some StringProtocol) -> (system: String?, value: String)? {
        guard placeholder.hasPrefix(lookupPrefix) else { return nil }
        guard let bytes = Hex.bytes(placeholder.dropFirst(lookupPrefix.count), lowercaseOnly: true),
            let bar = bytes.firstIndex(of: UInt8(ascii: "|"))
        else { return nil }
        let system = String(decoding: bytes[..<bar], as: UTF8.self)
        let value = String(decoding: bytes[(bar + 1)...], as: UTF8.self)
        guard !value.isEmpty else { return nil }
        return (system.isEmpty ? nil : system, value)
    }

    package static let lookupPrefix = "lookup:"
}
