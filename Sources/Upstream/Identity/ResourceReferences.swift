import FHIRConventions
import JSONQuery

/// Reading and rewriting the references a resource makes to Patients and Devices, on the JSON
/// the outbox holds. Pure: the uploader decides what the new ids are.
enum ResourceReferences {
    /// The id in `Type/id` (relative, absolute, or with `/_history/v`), when `reference` names a `type`.
    static func id(_ reference: String?, type: String) -> String? {
        guard let reference else { return nil }
        let parts = reference.split(separator: "/", omittingEmptySubsequences: true)
        guard let index = parts.lastIndex(where: { $0 == type }), index + 1 < parts.count else { return nil }
        return String(parts[index + 1])
    }

    /// `object[member].reference`.
    static func reference(_ object: JSONObject, _ member: String) -> String? {
        guard case .object(let reference)? = object[member], case .string(let text)? = reference["reference"] else { return nil }
        return text
    }

    /// The first identifier with a value, as `(system, value)`.
    static func firstIdentifier(_ object: JSONObject) -> (system: String?, value: String)? {
        guard case .array(let identifiers)? = object["identifier"] else { return nil }
        for case .object(let identifier) in identifiers {
            guard case .string(let value)? = identifier["value"], !value.isEmpty else { continue }
            if case .string(let system)? = identifier["system"], !system.isEmpty { return (system, value) }
            return (nil, value)
        }
        return nil
    }

    /// Sets `object[member]` to `{"reference": "Type/id"}`, in place when the member exists.
    static func setReference(_ object: inout JSONObject, _ member: String, _ reference: String) {
        object[member] = .object(["reference": .string(reference)])
    }

    /// A Lookup-mode Observation with the server's ids in place of its placeholders: subject
    /// (`Patient/<id>`, or `Device/<id>` for a reading about the Device itself), device, and the
    /// connector identifier (`{subject}.{device}.{type}.{segment}`, MedTech's form with the
    /// server's ids) with the id hashed from it.
    static func resolvingLookup(_ observation: JSONObject, placeholder: String, subject: String, deviceID: String) -> JSONObject {
        var object = observation
        setReference(&object, "subject", subject)
        let subjectID = subject.split(separator: "/").last.map(String.init) ?? subject
        setReference(&object, "device", "Device/" + deviceID)
        let prefix = placeholder + "." + placeholder + "."
        guard case .array(var identifiers)? = object["identifier"] else { return object }
        for index in identifiers.indices {
            guard case .object(var identifier) = identifiers[index], identifier["system"] == .string(ResourceIds.connectorSystem),
                  case .string(let value)? = identifier["value"], value.hasPrefix(prefix)
            else { continue }
            let resolved = subjectID + "." + deviceID + "." + value.dropFirst(prefix.count)
            identifier["value"] = .string(resolved)
            identifiers[index] = .object(identifier)
            object["identifier"] = .array(identifiers)
            object["id"] = .string(ResourceIds.hashedId(system: ResourceIds.connectorSystem, value: resolved))
            break
        }
        return object
    }

    /// Whether `body` may hold a Lookup placeholder: a byte scan that spares the JSON parse for
    /// the common case of resources that have none.
    static func mayHoldPlaceholder(_ body: String) -> Bool {
        let needle = Array("/lookup:".utf8)
        var matched = 0
        for byte in body.utf8 {
            if byte == needle[matched] {
                matched += 1
                if matched == needle.count { return true }
            } else {
                matched = byte == needle[0] ? 1 : 0
            }
        }
        return false
    }
}
