import Audit
import EdgeCore
import Foundation
import JSONQuery
import Mapping
import Store
import XCTest
@testable import Gateway

/// `profile.yaml` identity settings: the identifier systems conditional create needs (and
/// `config check` insists on).
final class IdentitySettingsTests: XCTestCase {
    let time = Timestamp(millisecondsSinceEpoch: 1_764_000_000_000)

    /// A profiles folder with copies of bundled profiles, `profile.yaml` replaced where given.
    func profiles(_ names: [String: String?], in directory: TemporaryDirectory) throws -> String {
        let folder = directory.path + "/profiles"
        for (name, settings) in names {
            let target = folder + "/" + name
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for file in ["devicecontent.json", "fhirmapping.json", "profile.yaml"] {
                let source = GatewayHTTPTests.profiles + "/" + name + "/" + file
                if FileManager.default.fileExists(atPath: source) { try FileManager.default.copyItem(atPath: source, toPath: target + "/" + file) }
            }
            if let settings {
                try? FileManager.default.removeItem(atPath: target + "/profile.yaml")
                try settings.write(toFile: target + "/profile.yaml", atomically: true, encoding: .utf8)
            }
        }
        return folder
    }

    func load(_ config: String, profiles folder: String, in directory: TemporaryDirectory) throws -> [String] {
        let file = directory.path + "/fhir-edge.yaml"
        try ("dataDir: data\nprofiles: {directory: \(folder)}\n" + config).write(toFile: file, atomically: true, encoding: .utf8)
        switch GatewayLauncher.load(file: file) {
        case .success: return []
        case .failure(let error): return error.problems.map { "\($0.file): \($0.keyPath): \($0.message)" }
        }
    }

    func testConditionalCreateIsRefusedWhileAProfileLacksItsIdentifierSystems() throws {
        let directory = try TemporaryDirectory()
        let folder = try profiles(["demo-vitals": "identity: {mode: create}\n"], in: directory)
        let conditional = "upstream: {url: \"http://127.0.0.1:1/fhir\", idempotency: conditional-create}\n"
        let problems = try load(conditional, profiles: folder, in: directory)
        let file = folder + "/demo-vitals/profile.yaml"
        XCTAssertEqual(problems.count, 2, "\(problems)")
        XCTAssertTrue(problems[0].hasPrefix(file + ": identity.patientSystem: missing; upstream.idempotency conditional-create"), problems[0])
        XCTAssertTrue(problems[0].contains("another patient's identifier"), problems[0])
        XCTAssertTrue(problems[1].hasPrefix(file + ": identity.deviceSystem: missing;"), problems[1])
        // PUT needs no system: ids stay as they are for sites that set none.
        XCTAssertEqual(try load("upstream: {url: \"http://127.0.0.1:1/fhir\"}\n", profiles: folder, in: directory), [])

        try "identity: {mode: create, patientSystem: \"urn:example:mrn\", deviceSystem: \"urn:example:devices\"}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try load(conditional, profiles: folder, in: directory), [])
    }

    func testIdentitySettingsAreReadAndCheckedWithTheirKeyPaths() {
        switch ProfileSettings.decode(yaml: "identity: {patientSystem: \"urn:example:mrn\", deviceSystem: \"http://hl7.org/fhir/sid/eui-48/bluetooth\"}\n", file: "p.yaml") {
        case .success(let settings):
            XCTAssertEqual(settings.patientSystem, "urn:example:mrn")
            XCTAssertEqual(settings.deviceSystem, "http://hl7.org/fhir/sid/eui-48/bluetooth")
        case .failure(let error):
            XCTFail("\(error)")
        }
        switch ProfileSettings.decode(yaml: "identity: {patientSystem: \"urn:a|b\", deviceSystem: \"urn:x y\"}\n", file: "p.yaml") {
        case .success:
            XCTFail("a system with '|' or a space must be refused")
        case .failure(let error):
            XCTAssertEqual(Set(error.problems.map(\.keyPath)), ["identity.deviceSystem", "identity.patientSystem"])
            XCTAssertTrue(error.problems.allSatisfy { $0.message.contains("without spaces or '|'") })
        }
    }
}
