package import EdgeCore

/// MSA-1 (HL7 table 0008), original acknowledgment mode.
package enum HL7AcknowledgementCode: String, Sendable, Hashable {
    /// Application Accept: the message is committed.
    case accept = "AA"
    /// Application Error: not taken because of an error the sender may correct, or a condition on
    /// this side (store full) that lets the same message be resent later.
    case error = "AE"
    /// Application Reject: never taken as sent (unsupported type, version, facility or profile).
    case reject = "AR"
}

/// The header fields of a received message an acknowledgment echoes, read leniently from its first
/// line so that even a message that does not parse gets an ACK naming its control id. Values stay
/// as written (escaped, with components), re-emitted with the sender's own delimiters.
package struct HL7OriginalHeader: Sendable, Hashable {
    package var delimiters: HL7Delimiters
    /// MSH-n as written, by HL7 number (index 0 unused).
    package var raw: [String]

    package init(delimiters: HL7Delimiters = .standard, raw: [String] = []) {
        self.delimiters = delimiters
        self.raw = raw
    }

    /// Reads MSH's fields from the first line of `bytes`; standard delimiters and no fields when
    /// there is no usable MSH.
    package init(scanning bytes: [UInt8]) {
        var start = 0
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A || bytes[start] == 0xEF || bytes[start] == 0xBB || bytes[start] == 0xBF {
            start += 1
        }
        var end = start
        while end < bytes.count, bytes[end] != 0x0D, bytes[end] != 0x0A { end += 1 }
        let line = bytes[start..<end]
        guard line.count >= 9, Array(line.prefix(3)) == Array("MSH".utf8),
              let delimiters = try? ER7Parser.delimiters(Array(line), at: 3) else {
            self.init()
            return
        }
        var raw = ["", String(decoding: [delimiters.field], as: UTF8.self)]
        for field in line.dropFirst(4).split(separator: delimiters.field, omittingEmptySubsequences: false) {
            raw.append(HL7Escaping.text(field))
        }
        self.init(delimiters: delimiters, raw: raw)
    }

    package subscript(field n: Int) -> String { n < raw.count ? raw[n] : "" }

    /// A component of a field, unescaped (MSH-10 for keys, MSH-4.1 for the facility allowlist).
    package func value(field n: Int, component: Int = 1) -> String {
        let text = self[field: n]
        let parts = Array(text.utf8).split(separator: delimiters.component, omittingEmptySubsequences: false)
        guard component >= 1, component <= parts.count else { return "" }
        let sub = parts[component - 1].split(separator: delimiters.subcomponent, omittingEmptySubsequences: false).first ?? []
        return (try? HL7Escaping.unescape(sub, delimiters: delimiters, at: HL7Location(segment: "MSH", field: n))) ?? HL7Escaping.text(sub)
    }

    package var controlID: String { value(field: 10) }
    package var version: String { value(field: 12) }
}

/// Builds ACK messages: MSH with sender and receiver swapped, MSA echoing MSH-10, and one ERR per
/// problem with its location (ERR-2) and table 0357 code (ERR-3); for v2.3/2.4 senders, the ERR-1
/// form and MSA-3 text those versions read instead.
package struct HL7AcknowledgementBuilder: Sendable {
    /// MSH-3 and MSH-4 of the ACK when the original named no receiver.
    package var application: String
    package var facility: String

    package init(application: String = "fhir-edge", facility: String = "") {
        self.application = application
        self.facility = facility
    }

    /// The ACK's ER7 text, segments ended by CR. `controlID` is the ACK's own MSH-10.
    package func acknowledgement(
        to original: HL7OriginalHeader, code: HL7AcknowledgementCode, errors: [HL7Error] = [], controlID: String, at time: Timestamp
    ) -> String {
        let d = original.delimiters
        let f = String(decoding: [d.field], as: UTF8.self)
        let c = String(decoding: [d.component], as: UTF8.self)
        let s = String(decoding: [d.subcomponent], as: UTF8.self)
        func escaped(_ text: String) -> String { HL7Escaping.escape(text, delimiters: d) }
        // A field echoed as written, unless its escapes are broken: then as literal text, so the
        // ACK itself always parses.
        func echoed(_ n: Int) -> String {
            let raw = original[field: n]
            guard (try? HL7Escaping.unescape(Array(raw.utf8)[...], delimiters: d, at: HL7Location(segment: "MSH", field: n))) != nil else {
                return escaped(raw)
            }
            return raw
        }
        let version = original.version.isEmpty ? "2.6" : original.version
        let modern = !(version.hasPrefix("2.3") || version.hasPrefix("2.4") || version.hasPrefix("2.2") || version.hasPrefix("2.1"))
        let trigger = original.value(field: 9, component: 2)
        // MSH-9.3 (message structure) exists from v2.3.1 on.
        var typeParts = ["ACK", escaped(trigger)]
        if !["2.1", "2.2", "2.3"].contains(version) { typeParts.append("ACK") }
        while typeParts.last == "" { typeParts.removeLast() }
        let messageType = typeParts.joined(separator: c)
        let receivingApplication = original[field: 5].isEmpty ? escaped(application) : echoed(5)
        let receivingFacility = original[field: 6].isEmpty ? escaped(facility) : echoed(6)
        let processing = original[field: 11].isEmpty ? "P" : echoed(11)
        let msh = [
            "MSH", d.encodingCharacters, receivingApplication, receivingFacility, echoed(3), echoed(4),
            HL7Time.format(time), "", messageType, escaped(controlID), processing, escaped(version),
        ]
        var segments = [msh.joined(separator: f)]
        var msa = ["MSA", code.rawValue, escaped(original.controlID)]
        if !modern, let first = errors.first { msa.append(escaped(first.description)) }
        segments.append(msa.joined(separator: f))
        for error in errors {
            let codeText = "\(error.code.code)"
            if modern {
                var location = ""
                if let at = error.location {
                    location = [escaped(at.segment), "\(at.sequence)", at.field > 0 ? "\(at.field)" : "",
                                at.repetition > 0 ? "\(at.repetition)" : "", at.component > 0 ? "\(at.component)" : "",
                                at.subcomponent > 0 ? "\(at.subcomponent)" : ""]
                        .joined(separator: c)
                    while location.hasSuffix(c) { location.removeLast(c.count) }
                }
                let hl7Code = [codeText, escaped(error.code.text), "HL70357"].joined(separator: c)
                // ERR-4 severity E (table 0516); ERR-8 the user message.
                segments.append(["ERR", "", location, hl7Code, "E", "", "", "", escaped(error.reason)].joined(separator: f))
            } else {
                let at = error.location
                let eld = [at.map { escaped($0.segment) } ?? "", at.map { "\($0.sequence)" } ?? "",
                           at.map { $0.field > 0 ? "\($0.field)" : "" } ?? "",
                           [codeText, escaped(error.code.text), "HL70357"].joined(separator: s)]
                segments.append(["ERR", eld.joined(separator: c)].joined(separator: f))
            }
        }
        return segments.map { $0 + "\r" }.joined()
    }
}
