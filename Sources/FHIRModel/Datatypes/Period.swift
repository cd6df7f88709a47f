package import JSONQuery

/// FHIR `Period`. Bounds are FHIR `dateTime` strings as written (the gateway writes ISO 8601 UTC
/// with milliseconds); this target does not interpret time.
package struct Period: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var start: String?
    package var end: String?

    package init(start: String? = nil, end: String? = nil) {
        self.start = start
        self.end = end
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("start", start)
        w.set("end", end)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.string("start", start)
        w.string("end", end)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        start = try r.string("start")
        end = try r.string("end")
    }
}

/// FHIR `Reference`, e.g. `Patient/123`.
package struct Reference: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var reference: String?
    package var type: String?
    package var identifier: Identifier?
    package var display: String?

    package init(reference: String? = nil, type: String? = nil, identifier: Identifier? = nil, display: String? = nil) {
        self.reference = reference
        self.type = type
        self.identifier = identifier
        self.display = display
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("reference", reference)
        w.set("type", type)
        w.set("identifier", identifier)
        w.set("display", display)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.string("reference", reference)
        w.string("type", type)
        w.element("identifier", identifier)
        w.string("display", display)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        reference = try r.string("reference")
        type = try r.string("type")
        identifier = try r.element("identifier", as: Identifier.self)
        display = try r.string("display")
    }
}

/// FHIR `Identifier`: a business identifier (`system` + `value`).
package struct Identifier: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var use: String?
    /// What kind of identifier it is (the PHD IG's `BTMAC` for a Bluetooth address).
    package var type: CodeableConcept?
    package var system: String?
    package var value: String?

    package init(use: String? = nil, type: CodeableConcept? = nil, system: String? = nil, value: String? = nil) {
        self.use = use
        self.type = type
        self.system = system
        self.value = value
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("use", use)
        w.set("type", type)
        w.set("system", system)
        w.set("value", value)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.string("use", use)
        w.element("type", type)
        w.string("system", system)
        w.string("value", value)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        use = try r.string("use")
        type = try r.element("type", as: CodeableConcept.self)
        system = try r.string("system")
        value = try r.string("value")
    }
}
