import Crypto
import EdgeCore
import FieldKit
import Foundation
import JSONQuery
import XCTest

/// The kit format on its own: sealing round trip, manifest signing, key files, pseudonyms.
final class KitFormatTests: XCTestCase {
    static let random: @Sendable (Int) -> [UInt8] = { count in (0..<count).map { _ in UInt8.random(in: 0...255) } }

    func testSealedFilesOpenOnlyForTheirRecipientNameAndExport() throws {
        let identity = Curve25519.KeyAgreement.PrivateKey()
        let sealing = try KitCipher.sealing(for: identity.publicKey, random: Self.random)
        let plain = Data(Array(#"{"resourceType":"Observation","id":"a"}"#.utf8) + [0x0A])
        let sealed = try sealing.seal(plain, exportID: "e1", file: "Observation.ndjson.sealed", nonce: Self.random(12))
        XCTAssertNotEqual(sealed, plain)
        XCTAssertFalse(String(decoding: sealed, as: UTF8.self).contains("Observation\""), "the resource is not readable in the sealed file")

        let opening = try KitCipher.opening(with: identity, ephemeralPublicKey: sealing.ephemeralPublicKey)
        XCTAssertEqual(opening.open(sealed, exportID: "e1", file: "Observation.ndjson.sealed"), plain)
        XCTAssertNil(opening.open(sealed, exportID: "e1", file: "Patient.ndjson.sealed"), "a file renamed does not open")
        XCTAssertNil(opening.open(sealed, exportID: "e2", file: "Observation.ndjson.sealed"), "a file moved to another export does not open")
        var flipped = sealed
        flipped[flipped.count / 2] ^= 0x01
        XCTAssertNil(opening.open(flipped, exportID: "e1", file: "Observation.ndjson.sealed"), "a flipped byte does not open")
        let stranger = try KitCipher.opening(with: Curve25519.KeyAgreement.PrivateKey(), ephemeralPublicKey: sealing.ephemeralPublicKey)
        XCTAssertNil(stranger.open(sealed, exportID: "e1", file: "Observation.ndjson.sealed"), "another identity does not open it")
    }

    func testTheManifestRoundTripsAndItsSignatureCoversEveryByte() throws {
        let signer = Curve25519.Signing.PrivateKey()
        let manifest = KitManifest(
            exportID: "0011", gateway: "kit-a", sequence: 3, exportedAt: Timestamp(secondsSinceEpoch: 1_800_000_000),
            signingKey: signer.publicKey.rawRepresentation,
            files: [KitManifest.File(type: "Observation", url: "Observation.ndjson", count: 2, sha256: String(repeating: "a", count: 64), bytes: 10)],
            queuedFrom: Timestamp(secondsSinceEpoch: 1_799_000_000), queuedTo: Timestamp(secondsSinceEpoch: 1_799_900_000),
            effectiveFrom: nil, effectiveTo: nil, journal: ["head": .int(12), "hash": .string("ff")],
            clock: ["trust": .string("unsynchronised"), "jumps": .int(1)], encryption: nil, pseudonymKeyID: nil)
        let text = manifest.text
        let parsed = try KitManifest(parsing: text, location: "manifest.json")
        XCTAssertEqual(parsed, manifest)
        // The Bulk Data layout around fhir-edge's own members.
        let root = try JSONValue(parsing: Array(text))
        XCTAssertEqual(root["output"]?.arrayValue?.first?["url"]?.stringValue, "Observation.ndjson")
        XCTAssertEqual(root["requiresAccessToken"], .bool(false))

        let signature = try signer.signature(for: Data("fhir-edge kit manifest v1\n".utf8) + text)
        XCTAssertTrue(KitManifest.isSigned(text, signature: signature, by: signer.publicKey.rawRepresentation))
        var altered = text
        let index = try XCTUnwrap(altered.firstIndex(of: UInt8(ascii: "3")))
        altered[index] = UInt8(ascii: "2")
        XCTAssertFalse(KitManifest.isSigned(altered, signature: signature, by: signer.publicKey.rawRepresentation), "an edited manifest")
        XCTAssertFalse(KitManifest.isSigned(text, signature: signature, by: Curve25519.Signing.PrivateKey().publicKey.rawRepresentation), "another key")
    }

    func testAManifestNamingAPathOutsideTheKitIsRefused() throws {
        let manifest = KitManifest(
            exportID: "1", gateway: "g", sequence: 1, exportedAt: Timestamp(secondsSinceEpoch: 0), signingKey: Data(count: 32),
            files: [KitManifest.File(type: "Observation", url: "../etc/passwd", count: 0, sha256: "", bytes: 0)],
            queuedFrom: nil, queuedTo: nil, effectiveFrom: nil, effectiveTo: nil, journal: [:], clock: [:], encryption: nil, pseudonymKeyID: nil)
        XCTAssertThrowsError(try KitManifest(parsing: manifest.text, location: "m")) { error in
            XCTAssertTrue("\(error)".contains("not a plain file name"), "\(error)")
        }
    }

    func testKeyFilesRoundTripAndAreNotMistakenForEachOther() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kit-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("recipient").path
        let files = try KitKeyFile.generate(at: path, random: Self.random)
        let identity = try KitKeyFile.readIdentity(files.privatePath)
        let recipient = try KitKeyFile.readRecipient(files.publicPath)
        XCTAssertEqual(identity.publicKey.rawRepresentation, recipient.rawRepresentation)
        let mode = try FileManager.default.attributesOfItem(atPath: files.privatePath)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertThrowsError(try KitKeyFile.readRecipient(files.privatePath)) { error in
            XCTAssertTrue("\(error)".contains("is a \"fhir-edge kit identity v1\" file"), "\(error)")
        }
        XCTAssertThrowsError(try KitKeyFile.generate(at: path, random: Self.random), "never overwrites")
    }

    func testPseudonymsReplacePatientIdentifiersAndKeepDates() throws {
        let observation = try JSONValue(parsing: """
            {"resourceType":"Observation","id":"obs-1","identifier":[{"system":"urn:r","value":"mrn-42-1"}],
             "subject":{"reference":"Patient/pat-42","display":"Jane Roe","identifier":{"system":"urn:mrn","value":"mrn-42"}},
             "device":{"reference":"Device/dev-1"},"effectiveDateTime":"2026-11-27T10:00:00Z","valueQuantity":{"value":72}}
            """)
        let patient = try JSONValue(parsing: """
            {"resourceType":"Patient","id":"pat-42","identifier":[{"system":"urn:mrn","value":"mrn-42"}],"name":[{"family":"Roe"}],"birthDate":"1970-01-01"}
            """)
        let one = Pseudonymiser(key: Data(repeating: 1, count: 32))
        let other = Pseudonymiser(key: Data(repeating: 2, count: 32))
        let pseudonymised = one.apply(to: observation)
        let text = JSONWriter().string(pseudonymised)
        for secret in ["mrn-42", "pat-42", "Jane Roe", "obs-1"] { XCTAssertFalse(text.contains(secret), "\(secret) left in \(text)") }
        XCTAssertEqual(pseudonymised["effectiveDateTime"], .string("2026-11-27T10:00:00Z"), "dates are kept")
        XCTAssertEqual(pseudonymised["device"]?["reference"], .string("Device/dev-1"), "devices are kept")
        XCTAssertEqual(pseudonymised["valueQuantity"]?["value"], .int(72))
        let patientOut = one.apply(to: patient)
        XCTAssertNil(patientOut["name"])
        XCTAssertEqual(pseudonymised["subject"]?["reference"]?.stringValue, "Patient/" + (patientOut["id"]?.stringValue ?? "-"),
                       "the reference follows the Patient's pseudonym")
        XCTAssertEqual(JSONWriter().string(one.apply(to: observation)), text, "the same key gives the same pseudonyms")
        XCTAssertNotEqual(JSONWriter().string(other.apply(to: observation)), text, "another key gives others")
        XCTAssertNotEqual(one.keyID, other.keyID)
    }
}
