import FoundationEssentials
package import Store

extension GatewayConfiguration {
    /// The key the store is opened with, read from `storeKeySource`.
    ///
    /// Only the unconfigured default (`fhir-edge.key` beside the store) is ever created, and
    /// only for a store that has no key yet (new, or kept in clear before): a store whose key
    /// file went missing fails with the file's name instead of being given a new key.
    /// - Parameter create: the daemon creates the default key; operator commands never do.
    package func storeEncryption(create: Bool, random: @escaping @Sendable (Int) -> [UInt8] = StoreEncryption.systemRandom) throws(StoreError) -> StoreEncryption {
        let source = storeKeySource
        if storeKey == nil, case .file(let path) = source, !FileManager.default.fileExists(atPath: path) {
            if case .encrypted(let keyID) = try Store.encryptionState(path: storePath) {
                throw StoreError(.keyUnavailable,
                    "the store is encrypted (key id \(keyID)) but its key file is missing; restore the key file, "
                        + "or configure store.encryption with the store's key", location: source.description)
            }
            guard create else {
                throw StoreError(.keyUnavailable, "no key file; start the gateway once to create it, or configure store.encryption",
                    location: source.description)
            }
            try StoreKeySource.createKeyFile(at: path, random: random)
        }
        return StoreEncryption(keyEncryptionKey: try source.load(), random: random)
    }
}
