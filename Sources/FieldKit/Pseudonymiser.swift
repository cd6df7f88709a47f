import Crypto
package import FoundationEssentials
package import JSONQuery
import EdgeCore

/// Replaces what identifies a patient in a resource with keyed hashes, for research extracts.
///
/// Replaced: the ids of Patient and Observation resources (Observation ids are derived from
/// the patient's identifier), every identifier value of Patient and Observation resources, the
/// id in every `Patient/<id>` reference, and the identifier value of every `subject`/`patient`
/// reference. Removed: Patient `name`, `telecom`, `address`, `photo`, `contact` and the `display`
/// of subject/patient references. Kept: dates and times, values, codes, devices. A pseudonym is
/// `HMAC-SHA256(key, "fhir-edge pseudonym v1|" + kind + "|" + value)` in hex, so the same patient
/// gets the same pseudonym under the same key, across kits, and nobody without the key can
/// compute or check one. It is pseudonymisation, not anonymisation: dates, values and devices
/// can still single a person out, and whoever holds the key can re-link.
package struct Pseudonymiser: Sendable {
    package static let scheme = "HMAC-SHA256"
    let key: SymmetricKey

    package init(key: Data) {
        self.key = SymmetricKey(data: key)
    }

    /// Reads a key file (at least 16 bytes; its bytes as they are).
    package init(keyFile path: String) throws(KitError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw KitError(path, "cannot be read (missing, or no permission)") }
        guard data.count >= 16 else { throw KitError(path, "a pseudonymisation key needs at least 16 bytes, the file has \(data.count)") }
        self.init(key: data)
    }

    /// A public name of the key: whether two extracts used the same key, without revealing it.
    package var keyID: String {
        String(Hex.string(HMAC<SHA256>.authenticationCode(for: Data("fhir-edge pseudonym key id".utf8), using: key)).prefix(16))
    }

    func pseudonym(_ kind: String, _ value: String) -> String {
        Hex.string(HMAC<SHA256>.authenticationCode(for: Data("fhir-edge pseudonym v1|\(kind)|\(value)".utf8), using: key))
    }

    /// The resource with its patient identifiers replaced.
    package func apply(to resource: JSONValue) -> JSONValue {
        guard case .object(var object) = resource else { return resource }
        let type = object["resourceType"]?.stringValue ?? ""
        let identifying = type == "Patient" || type == "Observation"
        if identifying, let id = object["id"]?.stringValue { object["id"] = .string(pseudonym(type, id)) }
        if identifying, let identifiers = object["identifier"]?.arrayValue { object["identifier"] = .array(identifiers.map(identifier)) }
        if type == "Patient" {
            for removed in ["name", "telecom", "address", "photo", "contact"] { object[removed] = nil }
        }
        for key in object.keys where key != "id" && key != "identifier" && key != "resourceType" {
            object[key] = object[key].map { references($0, parentKey: key) }
        }
        return .object(object)
    }

    private func identifier(_ value: JSONValue) -> JSONValue {
        guard case .object(var object) = value, let text = object["value"]?.stringValue else { return value }
        object["value"] = .string(pseudonym("identifier|" + (object["system"]?.stringValue ?? ""), text))
        return .object(object)
    }

    private func references(_ value: JSONValue, parentKey: String) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map { references($0, parentKey: parentKey) })
        case .object(var object):
            if let reference = object["reference"]?.stringValue, reference.hasPrefix("Patient/") {
                object["reference"] = .string("Patient/" + pseudonym("Patient", String(reference.dropFirst("Patient/".count))))
            }
            if parentKey == "subject" || parentKey == "patient" {
                if let inner = object["identifier"] { object["identifier"] = identifier(inner) }
                object["display"] = nil
            }
            for key in object.keys where key != "reference" && !((parentKey == "subject" || parentKey == "patient") && key == "identifier") {
                object[key] = object[key].map { references($0, parentKey: key) }
            }
            return .object(object)
        default:
            return value
        }
    }
}
