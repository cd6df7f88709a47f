import FHIRModel
import JSONQuery
import Store

/// Turns outbox resources into bundle entries under the configured idempotency scheme.
struct EntryBuilder: Sendable {
    var idempotency: UploadSettings.Idempotency
    /// The server base, for `fullUrl`.
    var baseURL: String

    /// The entry for `item`, or nil when its stored body is not JSON (it cannot be sent at all).
    func entry(for item: OutboxItem) -> Bundle.Entry? {
        let resource = item.resource
        guard let json = try? JSONValue(parsing: resource.body) else { return nil }
        if idempotency == .conditionalCreate, let identifier = Self.identifierQuery(resource, json) {
            var body = json
            if case .object(var object) = body {
                // The server assigns the id on create; a client id in a POST is ignored or refused.
                object["id"] = nil
                body = .object(object)
            }
            return Bundle.Entry(
                fullUrl: "urn:uuid:" + Self.uuid(for: resource.identityKey), resource: body,
                request: Bundle.Request(method: "POST", url: resource.resourceType, ifNoneExist: "identifier=" + identifier))
        }
        let path = resource.resourceType + "/" + resource.resourceID
        return Bundle.Entry(fullUrl: baseURL + "/" + path, resource: json, request: Bundle.Request(method: "PUT", url: path))
    }

    func bundle(_ items: [OutboxItem], type: UploadSettings.BundleType) -> Bundle {
        Bundle(type: type == .transaction ? "transaction" : "batch", entry: items.compactMap(entry(for:)))
    }

    /// `system|value` of the resource's first identifier, for `ifNoneExist`, or nil when it has
    /// none (such resources fall back to PUT by id). An identifier without system gives `|value`.
    static func identifierQuery(_ resource: OutboxResource, _ json: JSONValue?) -> String? {
        if case .object(let object)? = json, case .array(let identifiers)? = object["identifier"] {
            for case .object(let identifier) in identifiers {
                guard case .string(let value)? = identifier["value"], !value.isEmpty else { continue }
                var system = ""
                if case .string(let text)? = identifier["system"] { system = text }
                return tokenParameter(system: system, value: value)
            }
        }
        return nil
    }

    /// A token search value `system|value` (FHIR search): system and value each get FHIR's
    /// escapes (`\` before `\ | , $`, so a `|` in a value does not split it) and are then
    /// percent-encoded. A missing system gives `|value`, which matches only identifiers without
    /// a system, never another system's identifier with the same value. `separator` is `|` for
    /// `ifNoneExist`/`If-None-Exist`, `%7C` in a URL.
    static func tokenParameter(system: String?, value: String, separator: String = "|") -> String {
        encode(escapeToken(system ?? "")) + separator + encode(escapeToken(value))
    }

    /// FHIR search escaping of `\`, `|`, `,` and `$` in a parameter value.
    static func escapeToken(_ text: String) -> String {
        guard text.contains(where: { $0 == "\\" || $0 == "|" || $0 == "," || $0 == "$" }) else { return text }
        var out = ""
        for character in text {
            if character == "\\" || character == "|" || character == "," || character == "$" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Percent-encodes everything but unreserved characters and `:` `/` (which servers read as is).
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// A stable UUID-shaped name for an entry (only needs to be unique within the bundle).
    static func uuid(for key: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var hash2: UInt64 = 0x8422_2325_CBF2_9CE4
        for byte in key.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
            hash2 = (hash2 ^ UInt64(byte)) &* 0x100_0000_01B3 &+ 7
        }
        let hex = String(hash, radix: 16).leftPadded(16) + String(hash2, radix: 16).leftPadded(16)
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// The server's id and version of a stored resource, from `Location` (`Type/id/_history/v`,
/// relative or absolute) and `ETag` (`W/"v"`).
struct ServerVersion: Hashable, Sendable {
    var id: String?
    var version: String?

    init(id: String?, version: String?) {
        self.id = id
        self.version = version
    }

    init(location: String?, etag: String?) {
        var id: String?, version: String?
        if let location {
            let path = location.split(separator: "?", maxSplits: 1).first.map(String.init) ?? location
            let parts = path.split(separator: "/").map(String.init)
            if let history = parts.lastIndex(of: "_history"), history > 0 {
                id = parts[history - 1]
                if history + 1 < parts.count { version = parts[history + 1] }
            } else if parts.count >= 2 {
                id = parts[parts.count - 1]
            }
        }
        if let etag, version == nil {
            var tag = Substring(etag)
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            tag = tag.drop { $0 == "\"" }
            while tag.last == "\"" { tag = tag.dropLast() }
            if !tag.isEmpty { version = String(tag) }
        }
        self.id = id
        self.version = version
    }
}
