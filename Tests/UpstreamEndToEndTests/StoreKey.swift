import Foundation
import Store

/// The key a daemon created beside a store (`fhir-edge.key`), once it has run there; nil
/// before, when the store the test filled is still in clear.
func storeEncryption(besideStore path: String) throws -> StoreEncryption? {
    let file = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("fhir-edge.key").path
    guard FileManager.default.fileExists(atPath: file) else { return nil }
    return StoreEncryption(keyEncryptionKey: try StoreKeySource.file(file).load())
}
