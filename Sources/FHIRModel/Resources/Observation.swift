package import JSONQuery

/// FHIR R4 `Observation`, with the elements the gateway writes typed and every other element
/// kept as JSON so that an Observation read from a server and written back loses nothing.
package struct Observation: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var id: String?
    package var identifier: [Identifier]
    package var status: ObservationStatus
    package var category: [CodeableConcept]
    package var code: CodeableConcept
    package var subject: Reference?
    package var encounter: Reference?
    package var effectivePeriod: Period?
    /// FHIR `instant`.
    package var issued: String?
    package var value: ObservationValue?
    package var device: Reference?
    package var component: [Component]
    /// Elements not modelled above (`meta`, `note`, `effectiveDateTime`, ...), in document order.
    package var otherElements: JSONObject

    package init(
        id: String? = nil, identifier: [Identifier] = [], status: ObservationStatus, category: [CodeableConcept] = [],
        code: CodeableConcept, subject: Reference? = nil, encounter: Reference? = nil, effectivePeriod: Period? = nil,
        issued: String? = nil, value: ObservationValue? = nil, device: Reference? = nil, component: [Component] = [],
        otherElements: JSONObject = JSONObject()
    ) {
        self.id = id
        self.identifier = identifier
        self.status = status
        self.category = category
        self.code = code
        self.subject = subject
        self.encounter = encounter
        self.effectivePeriod = effectivePeriod
        self.issued = issued
        self.value = value
        self.device = device
        self.component = component
        self.otherElements = otherElements
    }

    /// `Observation.component`: one part of a multi-part reading (systolic / diastolic).
    package struct Component: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
        package var code: CodeableConcept
        package var value: ObservationValue?
        package var otherElements: JSONObject

        package init(code: CodeableConcept, value: ObservationValue? = nil, otherElements: JSONObject = JSONObject()) {
            self.code = code
            self.value = value
            self.otherElements = otherElements
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("code", raw: code.json)
            if let value { w.set(dataKey: value.elementName, raw: value.json) }
            w.merge(otherElements)
            return w.json
        }

        func writeMembers(to w: inout FHIRByteWriter) {
            // Extension members, or a value[x] named like `code`, need the tree's merge rules.
            if !otherElements.isEmpty || value?.elementName == "code" {
                w.members(of: json)
                return
            }
            w.required("code", code)
            value?.write(to: &w)
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            guard let code = try r.element("code", as: CodeableConcept.self) else {
                throw FHIRDecodingError(path: "\(path).code", message: "required member is missing")
            }
            self.code = code
            let (value, valueKey) = try ObservationValue.read(from: r)
            self.value = value
            var known: Set<String> = ["code"]
            if let valueKey { known.insert(valueKey) }
            otherElements = r.unknownMembers(excluding: known)
        }
    }

    private static let modelledElements: Set<String> = [
        "resourceType", "id", "identifier", "status", "category", "code", "subject", "encounter",
        "effectivePeriod", "issued", "device", "component",
    ]

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Observation")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("identifier", identifier)
        w.set("status", status.rawValue)
        w.set("category", category)
        w.set("code", raw: code.json)
        w.set("subject", subject)
        w.set("encounter", encounter)
        w.set("effectivePeriod", effectivePeriod)
        w.set("issued", issued)
        if let value { w.set(dataKey: value.elementName, raw: value.json) }
        w.set("device", device)
        w.set("component", component)
        w.merge(otherElements)
        return w.json
    }

    /// Appends the compact JSON text of `json` to `out`, byte for byte what
    /// `JSONWriter().write(json, into: &out)` writes, without building the tree first.
    package func writeJSON(into out: inout [UInt8]) {
        FHIRByteWriter.write(appendingTo: &out) { $0.document(self) }
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        // Extension members (`meta`, `note`, ...) and a value[x] named like a modelled element
        // need the tree's merge rules; the gateway's own Observations have neither.
        if !otherElements.isEmpty || value.map({ Self.modelledElements.contains($0.elementName) }) == true {
            w.members(of: json)
            return
        }
        w.string("resourceType", "Observation")
        w.string("id", id)
        w.elements("identifier", identifier)
        w.string("status", status.rawValue)
        w.elements("category", category)
        w.required("code", code)
        w.element("subject", subject)
        w.element("encounter", encounter)
        w.element("effectivePeriod", effectivePeriod)
        w.string("issued", issued)
        value?.write(to: &w)
        w.element("device", device)
        w.elements("component", component)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Observation" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Observation, found \(type)")
        }
        id = try r.string("id")
        identifier = try r.array("identifier", of: Identifier.self)
        status = ObservationStatus(rawValue: try r.requiredString("status"))
        category = try r.array("category", of: CodeableConcept.self)
        guard let code = try r.element("code", as: CodeableConcept.self) else {
            throw FHIRDecodingError(path: "\(path).code", message: "required member is missing")
        }
        self.code = code
        subject = try r.element("subject", as: Reference.self)
        encounter = try r.element("encounter", as: Reference.self)
        effectivePeriod = try r.element("effectivePeriod", as: Period.self)
        issued = try r.string("issued")
        device = try r.element("device", as: Reference.self)
        component = try r.array("component", of: Component.self)
        let (value, valueKey) = try ObservationValue.read(from: r)
        self.value = value
        var known = Self.modelledElements
        if let valueKey { known.insert(valueKey) }
        otherElements = r.unknownMembers(excluding: known)
    }
}

/// `Observation.status`; a struct so that codes this model does not list still round-trip.
package struct ObservationStatus: RawRepresentable, Hashable, Sendable {
    package var rawValue: String
    package init(rawValue: String) { self.rawValue = rawValue }

    package static let registered = ObservationStatus(rawValue: "registered")
    package static let preliminary = ObservationStatus(rawValue: "preliminary")
    package static let final = ObservationStatus(rawValue: "final")
    package static let amended = ObservationStatus(rawValue: "amended")
    package static let corrected = ObservationStatus(rawValue: "corrected")
    package static let cancelled = ObservationStatus(rawValue: "cancelled")
    package static let enteredInError = ObservationStatus(rawValue: "entered-in-error")
    package static let unknown = ObservationStatus(rawValue: "unknown")
}

/// `Observation.value[x]` / `Observation.component.value[x]`.
package enum ObservationValue: Hashable, Sendable {
    case quantity(Quantity)
    case codeableConcept(CodeableConcept)
    case string(String)
    case sampledData(SampledData)
    /// Any other `value[x]` (`valueBoolean`, `valueInteger`, ...), by its element name.
    case other(elementName: String, JSONValue)

    package var elementName: String {
        switch self {
        case .quantity: "valueQuantity"
        case .codeableConcept: "valueCodeableConcept"
        case .string: "valueString"
        case .sampledData: "valueSampledData"
        case .other(let name, _): name
        }
    }

    package var json: JSONValue {
        switch self {
        case .quantity(let q): q.json
        case .codeableConcept(let c): c.json
        case .string(let s): .string(s)
        case .sampledData(let s): s.json
        case .other(_, let json): json
        }
    }

    /// Writes `elementName: json` as the `json` trees do (`FHIRObjectWriter.set(_:raw:)`): present
    /// even when empty.
    func write(to w: inout FHIRByteWriter) {
        switch self {
        case .quantity(let q): w.required("valueQuantity", q)
        case .codeableConcept(let c): w.required("valueCodeableConcept", c)
        case .string(let s): w.rawString("valueString", s)
        case .sampledData(let s): w.required("valueSampledData", s)
        case .other(let name, let json): w.raw(name, json)
        }
    }

    static func read(from r: FHIRObjectReader) throws(FHIRDecodingError) -> (ObservationValue?, String?) {
        var found: (ObservationValue, String)?
        for (key, json) in r.object.members where key.hasPrefix("value") && key.count > 5 && !json.isNull {
            if let found {
                throw FHIRDecodingError(path: "\(r.path).\(key)", message: "more than one value[x] (also \(found.1))")
            }
            let path = "\(r.path).\(key)"
            let value: ObservationValue
            switch key {
            case "valueQuantity": value = .quantity(try Quantity(json: json, path: path))
            case "valueCodeableConcept": value = .codeableConcept(try CodeableConcept(json: json, path: path))
            case "valueSampledData": value = .sampledData(try SampledData(json: json, path: path))
            case "valueString":
                guard case .string(let s) = json else {
                    throw FHIRDecodingError(path: path, message: "expected a string, found \(json.typeName)")
                }
                value = .string(s)
            default: value = .other(elementName: key, json)
            }
            found = (value, key)
        }
        return (found?.0, found?.1)
    }
}
