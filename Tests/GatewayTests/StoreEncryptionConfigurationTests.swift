import Foundation
import Store
import XCTest
@testable import Gateway

final class StoreEncryptionConfigurationTests: XCTestCase {
    private func yaml(_ encryption: String) -> String {
        """
        dataDir: /var/lib/fhir-edge
        profiles:
          directory: profiles
        store:
          maxBytes: 64MiB
        \(encryption)
        """
    }

    private func decode(_ text: String) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(yaml: text, file: "config.yaml", baseDirectory: "/etc/fhir-edge")
    }

    func testEachKeySourceDecodesAndAFileIsResolvedAgainstTheConfiguration() throws {
        XCTAssertEqual(try decode(yaml("  encryption: {keyFile: keys/store.key}")).storeKeySource, .file("/etc/fhir-edge/keys/store.key"))
        XCTAssertEqual(try decode(yaml("  encryption: {keyEnv: FHIR_EDGE_STORE_KEY}")).storeKeySource, .environment("FHIR_EDGE_STORE_KEY"))
        XCTAssertEqual(try decode(yaml("  encryption: {keyCredential: store-key}")).storeKeySource, .credential("store-key"))
    }

    func testWithoutASectionTheKeyIsTheFileBesideTheStore() throws {
        let configuration = try decode(yaml(""))
        XCTAssertNil(configuration.storeKey)
        XCTAssertEqual(configuration.storeKeySource, .file("/var/lib/fhir-edge/fhir-edge.key"))
    }

    func testTwoSourcesOrACredentialPathAreProblemsNamingTheKey() {
        for (section, path) in [
            ("  encryption: {keyFile: a, keyEnv: B}", "store.encryption"),
            ("  encryption: {}", "store.encryption"),
            ("  encryption: {keyCredential: /run/creds/x}", "store.encryption.keyCredential"),
            ("  encryption: {keyfile: a}", "store.encryption.keyfile"),
        ] {
            do {
                _ = try decode(yaml(section))
                XCTFail("expected a problem for \(section)")
            } catch let error as ConfigurationError {
                XCTAssertTrue(error.problems.contains { $0.keyPath == path }, "\(section): \(error.problems.map(\.description))")
            } catch {
                XCTFail("unexpected \(error)")
            }
        }
    }

    func testAKeyFromTheEnvironmentOrACredentialLoadsAndAMissingOneNamesItsSource() throws {
        let hex = String(repeating: "3c", count: 32)
        XCTAssertNoThrow(try StoreKeySource.environment("K").load(environment: ["K": hex]))
        XCTAssertThrowsError(try StoreKeySource.environment("K").load(environment: [:])) { error in
            XCTAssertEqual((error as? StoreError)?.location, "environment variable K")
        }
        XCTAssertThrowsError(try StoreKeySource.credential("store-key").load(environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("CREDENTIALS_DIRECTORY"), "\(error)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fhir-edge-creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("store-key").path, contents: Data(hex.utf8),
                                       attributes: [.posixPermissions: 0o400])
        let key = try StoreKeySource.credential("store-key").load(environment: ["CREDENTIALS_DIRECTORY": directory.path])
        XCTAssertEqual(key.source, "systemd credential store-key")
    }
}
