public import JSONQuery

/// FHIR R4 `Device`, as far as identity resolution needs it: identifiers and the patient link.
public struct Device: Hashable, Sendable, FHIRJSONRepresentable {
    public var id: String?
    public var identifier: [Identifier]
    public var patient: Reference?
    public var otherElements: JSONObject

    public init(id: String? = nil, identifier: [Identifier] = [], patient: Reference? = nil, otherElements: JSONObject = JSONObject()) {
        self.id = id
        self.identifier = identifier
        self.patient = patient
        self.otherElements = otherElements
    }

    public var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Device")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("identifier", identifier)
        w.set("patient", patient)
        w.merge(otherElements)
        return w.json
    }

    public init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Device" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Device, found \(type)")
        }
        id = try r.string("id")
        identifier = try r.array("identifier", of: Identifier.self)
        patient = try r.element("patient", as: Reference.self)
        otherElements = r.unknownMembers(excluding: ["resourceType", "id", "identifier", "patient"])
    }
}

/// FHIR R4 `Patient`, as far as identity resolution needs it: identifiers.
public struct Patient: Hashable, Sendable, FHIRJSONRepresentable {
    public var id: String?
    public var identifier: [Identifier]
    public var otherElements: JSONObject

    public init(id: String? = nil, identifier: [Identifier] = [], otherElements: JSONObject = JSONObject()) {
        self.id = id
        self.identifier = identifier
        self.otherElements = otherElements
    }

    public var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Patient")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("identifier", identifier)
        w.merge(otherElements)
        return w.json
    }

    public init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Patient" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Patient, found \(type)")
        }
        id = try r.string("id")
        identifier = try r.array("identifier", of: Identifier.self)
        otherElements = r.unknownMembers(excluding: ["resourceType", "id", "identifier"])
    }
}
