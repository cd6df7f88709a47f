import EdgeCore
package import JSONQuery

/// IHE PCD-01 (Communicate PCD Data, ORU^R01) to the JSON device message a device profile's
/// templates read: one entry in `observations` per OBX that carries a value, each with the device,
/// patient and time it belongs to, so a template matches one entry and finds all it needs in it.
///
/// ```json
/// {"format": "hl7v2-pcd01", "messageControlId": "MSG0001", "sendingFacility": "ICU-EAST",
///  "patientId": "HO2009001", "patient": {"identifiers": [{"value": "HO2009001", "type": "MR", "system": "urn:oid:1.2.3"}]},
///  "devices": [{"hierarchy": "1.0.0.0", "level": "mds", "code": "69965", "deviceId": "0123456789ABCDEF"}],
///  "observations": [{"code": "150456", "name": "MDC_PULS_OXIM_SAT_O2", "codeSystem": "MDC", "valueType": "NM",
///    "value": 98, "unit": "%", "unitCode": "262688", "unitSystem": "MDC", "hierarchy": "1.1.1.1",
///    "level": "metric", "status": "R", "time": "2026-12-06T09:57:15.000Z", "deviceId": "0123456789ABCDEF", ...}]}
/// ```
package struct PCD01Conversion: Sendable {
    package struct Result: Sendable {
        package var message: JSONValue
        /// The device the message is about: the first MDS's identity, else the sending application's.
        package var deviceID: String?
        package var observationCount: Int
    }

    package init() {}

    /// The versions taken (v2.6 is what PCD-01 prescribes; earlier and later ones parse the same way).
    package static func supportsVersion(_ version: String) -> Bool {
        ["2.3", "2.4", "2.5", "2.6", "2.7", "2.8"].contains { version == $0 || version.hasPrefix($0 + ".") }
    }

    package func convert(_ message: HL7Message) throws(HL7Error) -> Result {
        let msh = message.header
        try Self.checkHeader(msh)
        let defaultOffset = HL7Time.offsetMinutes(msh.field(7).value) ?? 0
        func time(_ field: HL7Field, _ location: HL7Location) throws(HL7Error) -> Timestamp? {
            let text = field.value.trimmingSpaces
            guard !text.isEmpty else { return nil }
            guard let time = HL7Time.parse(text, defaultOffsetMinutes: defaultOffset) else {
                throw HL7Error(.dataType, at: location, "not an HL7 date/time (YYYYMMDDHHMMSS[.SSSS][+/-ZZZZ])")
            }
            return time
        }
        let messageTime = try time(msh.field(7), msh.location(field: 7))
        let sendingApplication = Self.application(msh.field(3).first)

        var root: JSONObject = ["format": "hl7v2-pcd01"]
        root["messageControlId"] = .string(msh.field(10).value)
        root["messageType"] = .string(msh.field(9)[component: 1] + "^" + msh.field(9)[component: 2])
        root["version"] = .string(msh.field(12).value)
        if !msh.field(3).isEmpty { root["sendingApplication"] = .string(msh.field(3).value.isEmpty ? msh.field(3)[component: 2] : msh.field(3).value) }
        if !msh.field(4).isEmpty { root["sendingFacility"] = .string(msh.field(4).value) }
        if let messageTime { root["messageTime"] = .string(messageTime.iso8601) }

        var patientID: String?
        var devices: [JSONValue] = []
        var observations: [JSONValue] = []
        // Device identities by hierarchy prefix (`1`, `1.1`, `1.1.1`), reset per OBR.
        var identities: [String: (id: String, type: String?)] = [:]
        var firstDevice: String?
        var obr: HL7Segment?
        var obrTime: Timestamp?
        var pendingPRT: [Int] = []  // indexes into observations waiting for a PRT's device
        var sawOBR = false

        for segment in message.segments.dropFirst() {
            switch segment.id {
            case "PID":
                let (patient, id) = Self.patient(segment)
                if let patient { root["patient"] = patient }
                if let id, patientID == nil { patientID = id; root["patientId"] = .string(id) }
            case "OBR":
                sawOBR = true
                obr = segment
                identities = [:]
                pendingPRT = []
                obrTime = try time(segment.field(7), segment.location(field: 7))
            case "OBX":
                guard let order = obr else {
                    throw HL7Error(.segmentSequence, at: segment.location(), "an OBX before any OBR; PCD-01 groups observations under an OBR")
                }
                pendingPRT = []
                var entry = JSONObject()
                let setID = segment.field(1).value
                if let number = Int(setID) { entry["setId"] = .int(Int64(number)) }
                entry["obr"] = .string(order.field(1).value)
                let identifier = segment.field(3)
                guard !identifier.value.isEmpty else {
                    throw HL7Error(.requiredFieldMissing, at: segment.location(field: 3), "OBX-3 (observation identifier) is empty")
                }
                entry["code"] = .string(identifier[component: 1])
                if !identifier[component: 2].isEmpty { entry["name"] = .string(identifier[component: 2]) }
                if !identifier[component: 3].isEmpty { entry["codeSystem"] = .string(identifier[component: 3]) }
                let hierarchy = Hierarchy(segment.field(4).value)
                if let hierarchy {
                    entry["hierarchy"] = .string(segment.field(4).value)
                    entry["level"] = .string(hierarchy.level)
                    for (name, value) in zip(["mds", "vmd", "channel", "metric", "facet"], hierarchy.parts) {
                        entry[name] = .int(Int64(value))
                    }
                } else if !segment.field(4).value.isEmpty {
                    entry["subId"] = .string(segment.field(4).value)
                }
                // The device: this OBX's own OBX-18, else the nearest containing level's.
                if let own = Self.equipment(segment.field(18).first) {
                    if let hierarchy { identities[hierarchy.key] = own }
                    entry["deviceId"] = .string(own.id)
                    if let type = own.type { entry["deviceIdType"] = .string(type) }
                    if firstDevice == nil { firstDevice = own.id }
                } else if let inherited = hierarchy?.ancestors.lazy.compactMap({ identities[$0] }).first {
                    entry["deviceId"] = .string(inherited.id)
                    if let type = inherited.type { entry["deviceIdType"] = .string(type) }
                }
                let status = segment.field(11).value
                if !status.isEmpty { entry["status"] = .string(status) }
                let valueType = segment.field(2).value
                let value = try Self.value(segment.field(5), type: valueType, at: segment.location(field: 5), defaultOffset: defaultOffset)
                guard let value, !["X", "D", "W"].contains(status) else {
                    // No value (or "cannot be obtained", "deleted", "wrong"): a device-level row
                    // (MDS, VMD, channel) describes equipment; a metric without value has nothing to map.
                    if let hierarchy, hierarchy.level != "metric", hierarchy.level != "facet" {
                        entry["status"] = nil
                        devices.append(.object(entry))
                    }
                    continue
                }
                entry["valueType"] = .string(valueType)
                entry["value"] = value
                let unit = segment.field(6)
                if !unit.isEmpty {
                    if let ucum = Units.ucum(code: unit[component: 1], name: unit[component: 2], system: unit[component: 3]) {
                        entry["unit"] = .string(ucum)
                    }
                    if !unit[component: 1].isEmpty { entry["unitCode"] = .string(unit[component: 1]) }
                    if !unit[component: 2].isEmpty { entry["unitName"] = .string(unit[component: 2]) }
                    if !unit[component: 3].isEmpty { entry["unitSystem"] = .string(unit[component: 3]) }
                }
                if !segment.field(7).value.isEmpty { entry["referenceRange"] = .string(segment.field(7).value) }
                let flags = segment.field(8).repetitions.map(\.[component: 1]).filter { !$0.isEmpty }
                if !flags.isEmpty { entry["abnormalFlags"] = .array(flags.map { .string($0) }) }
                let method = segment.field(17)
                if !method.isEmpty { entry["method"] = .string(method[component: 1]) }
                let observed = try time(segment.field(14), segment.location(field: 14)) ?? obrTime ?? messageTime
                guard let observed else {
                    throw HL7Error(.requiredFieldMissing, at: segment.location(field: 14), "no observation time in OBX-14, OBR-7 or MSH-7")
                }
                entry["time"] = .string(observed.iso8601)
                if let patientID { entry["patientId"] = .string(patientID) }
                if entry["deviceId"] == nil {
                    pendingPRT.append(observations.count)
                    if let sendingApplication {
                        entry["deviceId"] = .string(sendingApplication.id)
                        if let type = sendingApplication.type { entry["deviceIdType"] = .string(type) }
                    }
                }
                observations.append(.object(entry))
            case "PRT":
                // v2.7+ participation: a device (PRT-10, or PRT-16's UDI) for the OBX it follows.
                let participation = segment.field(4)[component: 1]
                guard participation.isEmpty || ["OBSERV", "EQUIP", "RCT"].contains(participation),
                      let device = Self.equipment(segment.field(10).first) ?? Self.equipment(segment.field(16).first) else { continue }
                if firstDevice == nil { firstDevice = device.id }
                for index in pendingPRT {
                    guard var entry = observations[index].objectValue else { continue }
                    entry["deviceId"] = .string(device.id)
                    entry["deviceIdType"] = device.type.map { JSONValue.string($0) }
                    observations[index] = .object(entry)
                }
                pendingPRT = []
            default:
                continue
            }
        }
        guard sawOBR else {
            throw HL7Error(.segmentSequence, at: HL7Location(segment: "OBR"), "no OBR segment; PCD-01 reports observations under an OBR")
        }
        if let index = observations.firstIndex(where: { $0["deviceId"] == nil }) {
            let set = observations[index]["setId"].flatMap(\.doubleValue).map { Int($0) } ?? index + 1
            throw HL7Error(.requiredFieldMissing, at: HL7Location(segment: "OBX", sequence: set, field: 18),
                           "no device identity in OBX-18 (its own or its MDS's), a PRT or MSH-3")
        }
        root["devices"] = .array(devices)
        root["observations"] = .array(observations)
        return Result(message: .object(root), deviceID: firstDevice ?? sendingApplication?.id, observationCount: observations.count)
    }

    /// MSH-9 ORU^R01, a control id, a supported version and processing id.
    static func checkHeader(_ msh: HL7Segment) throws(HL7Error) {
        let type = msh.field(9)
        guard type[component: 1] == "ORU" else {
            throw HL7Error(.unsupportedMessageType, at: msh.location(field: 9, component: 1), "only ORU messages (PCD-01) are taken")
        }
        guard type[component: 2] == "R01" else {
            throw HL7Error(.unsupportedEventCode, at: msh.location(field: 9, component: 2), "only ORU^R01 (PCD-01) is taken")
        }
        guard !msh.field(10).value.isEmpty else {
            throw HL7Error(.requiredFieldMissing, at: msh.location(field: 10), "MSH-10 (message control id) is empty")
        }
        let processing = msh.field(11).value
        guard processing.isEmpty || ["P", "T", "D"].contains(processing) else {
            throw HL7Error(.unsupportedProcessingID, at: msh.location(field: 11), "MSH-11 must be P, T or D (HL7 table 0103)")
        }
        let version = msh.field(12).value
        guard !version.isEmpty else {
            throw HL7Error(.requiredFieldMissing, at: msh.location(field: 12), "MSH-12 (version id) is empty")
        }
        guard supportsVersion(version) else {
            throw HL7Error(.unsupportedVersionID, at: msh.location(field: 12), "HL7 v2.3 to v2.8 are taken")
        }
    }

    /// PID-3's identifiers (CX): value, type (CX-5), assigning authority (CX-4) and the identifier
    /// system it names. The patient id is the first MR (medical record number), else the first PI, else the first.
    static func patient(_ pid: HL7Segment) -> (JSONValue?, String?) {
        var identifiers: [JSONValue] = []
        var chosen: (rank: Int, id: String)?
        for repetition in pid.field(3).repetitions {
            let value = repetition[component: 1].trimmingSpaces
            guard !value.isEmpty, value != "\"\"" else { continue }
            var identifier: JSONObject = ["value": .string(value)]
            let type = repetition[component: 5]
            if !type.isEmpty { identifier["type"] = .string(type) }
            let authority = repetition.subcomponents(of: 4)
            let namespace = authority.first ?? ""
            if !namespace.isEmpty { identifier["assigningAuthority"] = .string(namespace) }
            if let system = system(namespace: namespace, universalID: authority.count > 1 ? authority[1] : "", type: authority.count > 2 ? authority[2] : "") {
                identifier["system"] = .string(system)
            }
            identifiers.append(.object(identifier))
            let rank = type == "MR" ? 0 : type == "PI" ? 1 : 2
            if chosen == nil || rank < chosen!.rank { chosen = (rank, value) }
        }
        guard !identifiers.isEmpty else { return (nil, nil) }
        return (.object(["identifiers": .array(identifiers)]), chosen?.id)
    }

    /// The identifier system an HD (namespace, universal id, universal id type) names, as the v2-to-FHIR
    /// mapping does: an ISO OID as `urn:oid:`, a UUID as `urn:uuid:`, a URI as itself; a bare
    /// namespace names no system.
    static func system(namespace: String, universalID: String, type: String) -> String? {
        guard !universalID.isEmpty else { return nil }
        switch type.uppercased() {
        case "ISO": return universalID.hasPrefix("urn:oid:") ? universalID : "urn:oid:" + universalID
        case "UUID", "GUID": return universalID.hasPrefix("urn:uuid:") ? universalID : "urn:uuid:" + universalID.lowercased()
        case "URI", "URL": return universalID
        default: return nil
        }
    }

    /// An EI naming equipment: the EUI-64 (EI-3 with EI-4 `EUI-64`, or EI-1 with EI-2 `EUI-64`), else EI-1, else EI-3.
    static func equipment(_ ei: HL7Repetition) -> (id: String, type: String?)? {
        let entity = ei[component: 1].trimmingSpaces, namespace = ei[component: 2], universal = ei[component: 3].trimmingSpaces
        let universalType = ei[component: 4]
        if universalType.uppercased() == "EUI-64", !universal.isEmpty { return (universal, "EUI-64") }
        if namespace.uppercased() == "EUI-64", !entity.isEmpty { return (entity, "EUI-64") }
        if !entity.isEmpty { return (entity, nil) }
        if !universal.isEmpty { return (universal, universalType.isEmpty ? nil : universalType) }
        return nil
    }

    /// MSH-3 (an HD: namespace, universal id, its type): the EUI-64 when the type says so, else the namespace.
    static func application(_ hd: HL7Repetition) -> (id: String, type: String?)? {
        let namespace = hd[component: 1].trimmingSpaces, universal = hd[component: 2].trimmingSpaces, type = hd[component: 3]
        if type.uppercased() == "EUI-64", !universal.isEmpty { return (universal, "EUI-64") }
        if !namespace.isEmpty { return (namespace, nil) }
        if !universal.isEmpty { return (universal, type.isEmpty ? nil : type) }
        return nil
    }

    /// OBX-5 by OBX-2. nil for an empty value.
    static func value(_ field: HL7Field, type: String, at location: HL7Location, defaultOffset: Int) throws(HL7Error) -> JSONValue? {
        let first = field.first
        guard !field.isEmpty else { return nil }
        switch type {
        case "NM":
            let text = first[component: 1].trimmingSpaces
            guard !text.isEmpty else { return nil }
            guard let number = Self.number(text) else { throw HL7Error(.dataType, at: location, "OBX-2 is NM but OBX-5 is not a number") }
            return number
        case "NA":
            var values: [JSONValue] = []
            for component in first.components {
                let text = (component.first ?? "").trimmingSpaces
                guard let number = Self.number(text) else { throw HL7Error(.dataType, at: location, "OBX-2 is NA but a component of OBX-5 is not a number") }
                values.append(number)
            }
            return .array(values)
        case "SN":
            // comparator ^ num1 ^ separator/suffix ^ num2; a plain number when only num1 is given.
            let comparator = first[component: 1], separator = first[component: 3], second = first[component: 4]
            guard let num1 = Self.number(first[component: 2].trimmingSpaces) else {
                throw HL7Error(.dataType, at: location, "OBX-2 is SN but OBX-5.2 is not a number")
            }
            if comparator.isEmpty, separator.isEmpty, second.isEmpty { return num1 }
            var object: JSONObject = ["number": num1]
            if !comparator.isEmpty { object["comparator"] = .string(comparator) }
            if !separator.isEmpty { object["separator"] = .string(separator) }
            if !second.isEmpty { object["number2"] = Self.number(second.trimmingSpaces) ?? .string(second) }
            return .object(object)
        case "CWE", "CE", "CNE", "CF":
            var object = JSONObject()
            for (name, n) in [("code", 1), ("text", 2), ("system", 3)] where !first[component: n].isEmpty {
                object[name] = .string(first[component: n])
            }
            return object.isEmpty ? nil : .object(object)
        case "DTM", "TS", "DT":
            guard let time = HL7Time.parse(first[component: 1].trimmingSpaces, defaultOffsetMinutes: defaultOffset) else {
                throw HL7Error(.dataType, at: location, "OBX-2 is \(type) but OBX-5 is not an HL7 date/time")
            }
            return .string(time.iso8601)
        default:
            // ST, TX, FT, ID, IS and the rest: the text of the first component (with its subcomponents).
            let text = first.subcomponents(of: 1).joined(separator: "&")
            return text.isEmpty ? nil : .string(text)
        }
    }

    /// An HL7 NM (`[+-]digits[.digits]`) as a JSON number, keeping its decimals.
    static func number(_ text: String) -> JSONValue? {
        var bytes = Array(text.utf8)
        var sign = ""
        if let first = bytes.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            if first == UInt8(ascii: "-") { sign = "-" }
            bytes.removeFirst()
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard !bytes.isEmpty, parts.count <= 2, parts.allSatisfy({ $0.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              !(parts.first?.isEmpty ?? true) || (parts.count == 2 && !parts[1].isEmpty) else { return nil }
        var integer = String(decoding: parts[0].drop { $0 == UInt8(ascii: "0") }, as: UTF8.self)
        if integer.isEmpty { integer = "0" }
        var text = sign + integer
        if parts.count == 2, !parts[1].isEmpty { text += "." + String(decoding: parts[1], as: UTF8.self) }
        return try? JSONValue(parsing: text)
    }

    /// OBX-4 as the PCD TF writes the containment tree: `MDS.VMD.channel.metric[.facet]`, a 0 part
    /// meaning "not at this level".
    struct Hierarchy {
        var parts: [Int]

        init?(_ text: String) {
            let pieces = text.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count >= 2, pieces.count <= 5 else { return nil }
            var parts: [Int] = []
            for piece in pieces {
                guard let value = Int(piece), value >= 0 else { return nil }
                parts.append(value)
            }
            self.parts = parts
        }

        /// The non-zero prefix: `1.1.0.0` is `1.1`.
        var significant: [Int] { Array(parts.prefix { $0 != 0 }) }
        var key: String { significant.map(String.init).joined(separator: ".") }
        var level: String { ["none", "mds", "vmd", "channel", "metric", "facet"][min(significant.count, 5)] }
        /// Keys of the containing levels, nearest first.
        var ancestors: [String] {
            let all = significant
            guard all.count > 1 else { return [] }
            return (1..<all.count).reversed().map { all.prefix($0).map(String.init).joined(separator: ".") }
        }
    }
}

/// MDC (IEEE 11073-10101) unit codes to UCUM, for the units PCD-01 vital signs use. A unit given
/// in UCUM (OBX-6.3 `UCUM`) passes as written.
enum Units {
    static let mdc: [String: String] = [
        "262656": "1",  // MDC_DIM_DIMLESS
        "262688": "%",  // MDC_DIM_PERCENT
        "264864": "/min",  // MDC_DIM_BEAT_PER_MIN
        "264928": "/min",  // MDC_DIM_RESP_PER_MIN
        "266016": "mm[Hg]",  // MDC_DIM_MMHG
        "266560": "[degF]",  // MDC_DIM_FAHR
        "268192": "Cel",  // MDC_DIM_DEGC
    ]
    static let mdcNames: [String: String] = [
        "MDC_DIM_DIMLESS": "1", "MDC_DIM_PERCENT": "%", "MDC_DIM_BEAT_PER_MIN": "/min", "MDC_DIM_RESP_PER_MIN": "/min",
        "MDC_DIM_MMHG": "mm[Hg]", "MDC_DIM_FAHR": "[degF]", "MDC_DIM_DEGC": "Cel",
    ]

    static func ucum(code: String, name: String, system: String) -> String? {
        switch system.uppercased() {
        case "UCUM": return code.isEmpty ? nil : code
        case "MDC", "": return mdc[code] ?? mdcNames[name]
        default: return nil
        }
    }
}
