package import Store
import EdgeCore
import EdgeCrypto
import JSONQuery

/// The journal's hash chain: `hash(n) = SHA-256(hash(n-1) ‖ canonical(entry n))`, with 32 zero
/// bytes before the first entry. The canonical entry is compact JSON with keys sorted by UTF-8
/// bytes: `{"actor","details","kind","seq","subjects","time"}`, time in UTC milliseconds,
/// subjects as `type/id` strings. Payloads and patient data never enter an entry.
///
/// The chain makes any edit, deletion, insertion or reordering visible to `JournalVerifier`;
/// it does not stop someone who rewrites the whole database and recomputes every hash. Export
/// the head hash (`AuditEventExporter` puts each entry's hash in its AuditEvent) to anchor it
/// outside the device. In an encrypted store the store keys this chain with the journal key
/// (`StoreReader.verificationChain`), which stops rehashing by anyone without the key.
package struct AuditChain: JournalChain {
    package init() {}

    package func hash(of entry: JournalEntry, previous: String?) -> String {
        var hasher = SHA256()
        hasher.update(previous.flatMap(Self.bytes(hex:)) ?? Self.genesis)
        hasher.update(Self.canonical(entry))
        return Hex.string(hasher.finalize())
    }

    /// The bytes that are hashed for `entry`.
    package static func canonical(_ entry: JournalEntry) -> [UInt8] {
        var object = JSONObject()
        object["seq"] = .int(entry.sequence)
        object["time"] = .int(entry.time.millisecondsSinceEpoch)
        object["kind"] = .string(entry.kind.rawValue)
        object["actor"] = .string(entry.actor)
        object["subjects"] = .array(entry.subjects.map { .string($0.description) })
        object["details"] = .object(entry.details)
        var out: [UInt8] = []
        out.reserveCapacity(256)
        JSONWriter(options: .sortedKeys).write(.object(object), into: &out)
        return out
    }

    static let genesis = [UInt8](repeating: 0, count: 32)

    /// Decodes 64 hex digits; anything else (an altered hash) is nil.
    static func bytes(hex: String) -> [UInt8]? {
        hex.utf8.count == 64 ? Hex.bytes(hex) : nil
    }
}
