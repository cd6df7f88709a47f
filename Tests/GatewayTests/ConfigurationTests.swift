import EdgeCore
import Foundation
import Store
import XCTest
@testable import Gateway

final class ConfigurationTests: XCTestCase {
    static let hash = String(repeating: "ab", count: 32)

    func decode(_ yaml: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(yaml: yaml, file: "config.yaml", baseDirectory: "/etc/fhir-edge", overrides: overrides)
    }

    func problems(_ yaml: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) -> [ConfigurationProblem] {
        do {
            _ = try decode(yaml, overrides: overrides)
            XCTFail("expected problems")
            return []
        } catch let error as ConfigurationError {
            return error.problems
        } catch {
            XCTFail("unexpected \(error)")
            return []
        }
    }

    func testFullConfigurationDecodes() throws {
        let configuration = try decode("""
            dataDir: data
            demo: false
            http:
              listen: 0.0.0.0:9000
              allowPlaintext: true
              maxBodySize: 2MiB
            store:
              maxBytes: 512MiB
              highWaterMark: 80%
              maxAge: 30d
              evictionPolicy: evict-oldest-unsynced
              retainSynced: 12h
            profiles:
              directory: /opt/profiles
              access:
                demo-vitals: [ward-hub]
                scale: "*"
            clients:
              ward-hub:
                tokenSHA256: \(Self.hash)
            mapping:
              batchSize: 250
              linger: 250ms
            """)
        XCTAssertEqual(configuration.dataDirectory, "/etc/fhir-edge/data")
        XCTAssertEqual(configuration.storePath, "/etc/fhir-edge/data/fhir-edge.sqlite")
        XCTAssertEqual(configuration.http.listen, ListenAddress(host: "0.0.0.0", port: 9000))
        XCTAssertEqual(configuration.warnings.map(\.keyPath), ["http.allowPlaintext"], "plain HTTP beyond loopback is warned about")
        XCTAssertEqual(configuration.http.maxBodyBytes, 2 << 20)
        XCTAssertEqual(configuration.store.maxBytes, 512 << 20)
        XCTAssertEqual(configuration.store.highWaterBytes, (512 << 20) / 100 * 80)
        XCTAssertEqual(configuration.store.maxAgeMilliseconds, 30 * 86_400_000)
        XCTAssertEqual(configuration.store.evictionPolicy, .evictOldestUnsynced)
        XCTAssertEqual(configuration.store.syncedRetentionMilliseconds, 12 * 3_600_000)
        XCTAssertEqual(configuration.profiles.directory, "/opt/profiles")
        XCTAssertEqual(configuration.profiles.access["demo-vitals"], .clients(["ward-hub"]))
        XCTAssertEqual(configuration.profiles.access["scale"], .anyClient)
        XCTAssertEqual(configuration.clients, [GatewayConfiguration.Client(id: "ward-hub", tokenHash: [UInt8](repeating: 0xAB, count: 32))])
        XCTAssertEqual(configuration.mapping.batchSize, 250)
        XCTAssertEqual(configuration.mapping.linger, .milliseconds(250))
        XCTAssertFalse(configuration.demo)
    }

    func testDefaultsAndOverrides() throws {
        let configuration = try decode("""
            dataDir: /var/lib/fhir-edge
            profiles:
              directory: profiles
            """, overrides: ConfigurationOverrides(dataDirectory: "/tmp/x", listen: "127.0.0.1:0"))
        XCTAssertEqual(configuration.dataDirectory, "/tmp/x")
        XCTAssertEqual(configuration.http.listen, ListenAddress(host: "127.0.0.1", port: 0))
        XCTAssertEqual(configuration.profiles.directory, "/etc/fhir-edge/profiles")
        XCTAssertEqual(configuration.store.evictionPolicy, .refuse)
        XCTAssertEqual(configuration.store.highWaterBytes, configuration.store.maxBytes / 10 * 9)
        XCTAssertEqual(configuration.mapping.linger, .milliseconds(100))
        XCTAssertEqual(ListenAddress.default.description, "127.0.0.1:8088")
    }

    func testMappingLingerCanBeTurnedOffAndIsBounded() throws {
        let base = "dataDir: data\nprofiles:\n  directory: profiles\nmapping:\n  linger: "
        XCTAssertEqual(try decode(base + "0s").mapping.linger, .zero)
        XCTAssertEqual(try decode(base + "2s").mapping.linger, .seconds(2))
        XCTAssertEqual(problems(base + "20s").map(\.keyPath), ["mapping.linger"], "readings would wait too long")
        XCTAssertEqual(problems(base + "soon").map(\.keyPath), ["mapping.linger"])
    }

    func testEveryProblemIsReportedAtOnceWithKeyPaths() {
        let found = problems("""
            dataDir: data
            demo: maybe
            http:
              listen: nowhere
              maxBodySise: 1MiB
            store:
              maxBytes: lots
              evictionPolicy: drop-everything
              retainSynced: forever
            profiles:
              directory: profiles
              access:
                demo-vitals: [ghost]
            clients:
              ward-hub:
                tokenSHA256: not-hex
            mapping:
              batchSize: 0
            upstream: https://example.invalid
            """)
        let byPath = Dictionary(grouping: found, by: \.keyPath)
        XCTAssertEqual(byPath["store.maxBytes"]?.first?.message, "expected a size like 512MiB")
        XCTAssertEqual(byPath["store.maxBytes"]?.first?.description, "config.yaml: store.maxBytes: expected a size like 512MiB (line 7)")
        for path in ["demo", "http.listen", "http.maxBodySise", "store.evictionPolicy", "store.retainSynced",
                     "profiles.access.demo-vitals[0]", "clients.ward-hub.tokenSHA256", "mapping.batchSize", "upstream"] {
            XCTAssertNotNil(byPath[path], "no problem reported at \(path); got \(found.map(\.description))")
        }
        XCTAssertEqual(found.count, 10, found.map(\.description).joined(separator: "\n"))
        XCTAssertTrue(byPath["upstream"]?.first?.message.contains("expected a mapping") ?? false, "upstream is a section, not a URL")
        XCTAssertTrue(byPath["http.maxBodySise"]?.first?.message.contains("maxBodySize") ?? false, "unknown keys list the known ones")
    }

    func testMissingRequiredSectionsAndWrongShapes() {
        let found = problems("""
            store: 12
            clients: [a, b]
            """)
        let paths = Set(found.map(\.keyPath))
        XCTAssertEqual(paths, ["dataDir", "profiles", "store", "clients"], found.map(\.description).joined(separator: "\n"))
    }

    func testDemoModeRequiresLoopback() {
        let found = problems("""
            dataDir: d
            demo: true
            http:
              listen: 0.0.0.0:8088
            profiles:
              directory: p
            """)
        XCTAssertEqual(found.map(\.keyPath), ["demo"])
        XCTAssertNoThrow(try decode("""
            dataDir: d
            demo: true
            profiles: {directory: p}
            """))
    }

    func testInvalidYAMLAndEmptyFile() {
        XCTAssertEqual(problems("dataDir: [unclosed").count, 1)
        XCTAssertEqual(problems("").first?.message.contains("empty"), true)
        let duplicate = problems("dataDir: d\ndataDir: e\nprofiles: {directory: p}")
        XCTAssertEqual(duplicate.count, 1)
        XCTAssertTrue(duplicate.first?.description.contains("dataDir") ?? false, "\(duplicate)")
    }

    func testHighWaterMarkBounds() throws {
        XCTAssertEqual(problems("""
            dataDir: d
            profiles: {directory: p}
            store: {maxBytes: 1MiB, highWaterMark: 2MiB}
            """).map(\.keyPath), ["store.highWaterMark"])
        let configuration = try decode("""
            dataDir: d
            profiles: {directory: p}
            store: {maxBytes: 1MiB, highWaterMark: 512KiB}
            """)
        XCTAssertEqual(configuration.store.highWaterBytes, 512 * 1024)
    }

    func testTheJournalHasItsShareOfTheStoreBound() throws {
        let standard = try decode("dataDir: d\nprofiles: {directory: p}\nstore: {maxBytes: 1000MiB}")
        XCTAssertEqual(standard.store.journalMaxBytes, 50 << 20, "5% by default")
        XCTAssertEqual(standard.store.dataLimitBytes, standard.store.highWaterBytes, "90% high water and 5% journal fit")
        XCTAssertTrue(standard.warnings.isEmpty, "\(standard.warnings)")
        let policy = Gateway.policy(standard.store)
        XCTAssertEqual(policy.journal.maxBytes, 50 << 20)
        XCTAssertEqual(policy.maxBytes, standard.store.highWaterBytes)

        let crowded = try decode("""
            dataDir: d
            profiles: {directory: p}
            store: {maxBytes: 1MiB, highWaterMark: 100%, journal: {maxBytes: 25%, retain: 30d}}
            """)
        XCTAssertEqual(crowded.store.journalMaxBytes, 256 * 1024)
        XCTAssertEqual(crowded.store.journalRetainMilliseconds, 30 * 86_400_000)
        XCTAssertEqual(crowded.store.dataLimitBytes, 768 * 1024, "data and journal together stay within maxBytes")
        XCTAssertEqual(crowded.warnings.map(\.keyPath), ["store.highWaterMark"])
        XCTAssertEqual(Gateway.policy(crowded.store).maxBytes, 768 * 1024)

        XCTAssertEqual(problems("""
            dataDir: d
            profiles: {directory: p}
            store: {maxBytes: 1MiB, journal: {maxBytes: 80%}}
            """).map(\.keyPath), ["store.journal.maxBytes"])
    }

    func testSizesAndDurations() {
        XCTAssertEqual(ByteSize.parse("512MiB"), 512 << 20)
        XCTAssertEqual(ByteSize.parse("1GB"), 1_000_000_000)
        XCTAssertEqual(ByteSize.parse("1024"), 1024)
        XCTAssertEqual(ByteSize.parse(" 64 KiB "), 65_536)
        XCTAssertNil(ByteSize.parse("12 parsecs"))
        XCTAssertNil(ByteSize.parse("MiB"))
        XCTAssertEqual(DurationText.parseMilliseconds("7d"), 7 * 86_400_000)
        XCTAssertEqual(DurationText.parseMilliseconds("250ms"), 250)
        XCTAssertNil(DurationText.parseMilliseconds("7 days"))
        XCTAssertEqual(ListenAddress(parsing: "[::1]:8088"), ListenAddress(host: "::1", port: 8088))
        XCTAssertEqual(ListenAddress(parsing: ":9000"), ListenAddress(host: "127.0.0.1", port: 9000))
        XCTAssertNil(ListenAddress(parsing: "127.0.0.1:99999"))
    }

    func testBundledDemoConfigurationAndProfilesLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = root.appendingPathComponent("packaging/demo/config.yaml").path
        let (configuration, catalog) = try GatewayLauncher.load(file: file).get()
        XCTAssertTrue(configuration.demo)
        XCTAssertEqual(configuration.http.listen, ListenAddress.default)
        // Every shipped profile (demo, Modbus, BLE) loads from the folder the demo configuration names.
        let shipped = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("device-profiles").path)
            .filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertTrue(shipped.contains("demo-vitals"))
        XCTAssertEqual(catalog.names, shipped)
        XCTAssertEqual(catalog["demo-vitals"]?.templateVersion.count, 64)
        XCTAssertEqual(GatewayLauncher.tokenHash("demo-token"), SHA256Hex.demoToken)
        XCTAssertEqual(configuration.clients.first?.tokenHash, Hex.bytes(SHA256Hex.demoToken))
    }

    func testConfigCheckReportsFileAndTemplateProblemsTogether() throws {
        let directory = try TemporaryDirectory()
        let profile = directory.path + "/profiles/scale"
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        try "{".write(toFile: profile + "/devicecontent.json", atomically: true, encoding: .utf8)
        let file = directory.path + "/config.yaml"
        try "dataDir: data\nprofiles:\n  directory: profiles\n  access: {ghost-profile: \"*\"}\nmapping: {batchSise: 3}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard case .failure(let error) = GatewayLauncher.load(file: file) else { return XCTFail("expected problems") }
        let text = error.description
        XCTAssertTrue(text.contains("mapping.batchSise: unknown key"), text)
        XCTAssertTrue(text.contains("scale/devicecontent.json"), text)
        XCTAssertTrue(text.contains("scale/fhirmapping.json: cannot read the file"), text)

        try "dataDir: data\nprofiles:\n  directory: \(GatewayHTTPTests.profiles)\n  access: {ghost-profile: \"*\"}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard case .failure(let unknown) = GatewayLauncher.load(file: file) else { return XCTFail("expected problems") }
        XCTAssertEqual(unknown.problems.map(\.keyPath), ["profiles.access.ghost-profile"])
    }

    func testTemplateProblemsNameFileTemplateAndField() throws {
        let directory = try TemporaryDirectory()
        let profile = directory.path + "/broken"
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        try #"{"templateType": "CollectionContent", "template": [{"templateType": "JsonPathContent", "template": {"typeName": "hr", "typeMatchExpression": "$..[?(@heartRate", "deviceIdExpression": "$.id", "timestampExpression": "$.t", "values": []}}]}"#
            .write(toFile: profile + "/devicecontent.json", atomically: true, encoding: .utf8)
        try #"{"templateType": "CollectionFhir", "template": []}"#.write(toFile: profile + "/fhirmapping.json", atomically: true, encoding: .utf8)
        try "identity:\n  colour: blue\n".write(toFile: profile + "/profile.yaml", atomically: true, encoding: .utf8)
        do {
            _ = try DeviceProfileCatalog.load(directory: directory.path)
            XCTFail("expected template problems")
        } catch {
            let text = error.description
            XCTAssertTrue(text.contains("broken/devicecontent.json"), text)
            XCTAssertTrue(text.contains("template[0]"), text)
            XCTAssertTrue(text.contains("typeMatchExpression"), text)
            XCTAssertTrue(text.contains("profile.yaml: identity.colour: unknown key"), text)
        }
    }
}

enum SHA256Hex {
    static let demoToken = "7c43ef5ae21d43ce2743f770c68e24def1a43ee2f416d2438410c8af7af2ff2c"
}

/// A fresh folder under the system's temporary directory, removed when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "fhir-edge-gateway-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
