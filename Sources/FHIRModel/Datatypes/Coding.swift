package import JSONQuery

/// FHIR `Coding`: one code from one code system.
package struct Coding: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var system: String?
    package var version: String?
    package var code: String?
    package var display: String?

    package init(system: String? = nil, version: String? = nil, code: String? = nil, display: String? = nil) {
        self.system = system
        self.version = version
        self.code = code
        self.display = display
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("system", system)
        w.set("version", version)
        w.set("code", code)
        w.set("display", display)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.string("system", system)
        w.string("version", version)
        w.string("code", code)
        w.string("display", display)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        system = try r.string("system")
        version = try r.string("version")
        code = try r.string("code")
        display = try r.string("display")
    }
}

/// FHIR `CodeableConcept`: codings plus a human-readable text.
package struct CodeableConcept: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var coding: [Coding]
    package var text: String?

    package init(coding: [Coding] = [], text: String? = nil) {
        self.coding = coding
        self.text = text
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("coding", coding)
        w.set("text", text)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.elements("coding", coding)
        w.string("text", text)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        coding = try r.array("coding", of: Coding.self)
        text = try r.string("text")
    }
}
