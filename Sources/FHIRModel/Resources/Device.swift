package import JSONQuery

/// FHIR R4 `Device`: identifiers and the patient link (identity resolution), and what a device
/// says about itself (the PHD IG's Device: type, manufacturer, model, serial number, versions).
package struct Device: Hashable, Sendable, FHIRJSONRepresentable {
    package var id: String?
    package var identifier: [Identifier]
    package var manufacturer: String?
    package var serialNumber: String?
    package var deviceName: [DeviceName]
    package var modelNumber: String?
    package var type: CodeableConcept?
    package var version: [Version]
    package var patient: Reference?
    package var otherElements: JSONObject

    /// `Device.deviceName`: a name and its kind (`user-friendly-name`, `model-name`...).
    package struct DeviceName: Hashable, Sendable, FHIRJSONRepresentable {
        package var name: String
        package var type: String

        package init(name: String, type: String) {
            self.name = name
            self.type = type
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("name", name)
            w.set("type", type)
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            name = try r.requiredString("name")
            type = try r.requiredString("type")
        }
    }

    /// `Device.version`: a firmware, hardware or software revision, its kind coded.
    package struct Version: Hashable, Sendable, FHIRJSONRepresentable {
        package var type: CodeableConcept?
        package var value: String

        package init(type: CodeableConcept? = nil, value: String) {
            self.type = type
            self.value = value
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("type", type)
            w.set("value", value)
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            type = try r.element("type", as: CodeableConcept.self)
            value = try r.requiredString("value")
        }
    }

    package init(
        id: String? = nil, identifier: [Identifier] = [], manufacturer: String? = nil, serialNumber: String? = nil,
        deviceName: [DeviceName] = [], modelNumber: String? = nil, type: CodeableConcept? = nil, version: [Version] = [],
        patient: Reference? = nil, otherElements: JSONObject = JSONObject()
    ) {
        self.id = id
        self.identifier = identifier
        self.manufacturer = manufacturer
        self.serialNumber = serialNumber
        self.deviceName = deviceName
        self.modelNumber = modelNumber
        self.type = type
        self.version = version
        self.patient = patient
        self.otherElements = otherElements
    }

    /// Members in the order of the R4 Device definition.
    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Device")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("identifier", identifier)
        w.set("manufacturer", manufacturer)
        w.set("serialNumber", serialNumber)
        w.set("deviceName", deviceName)
        w.set("modelNumber", modelNumber)
        w.set("type", type)
        w.set("version", version)
        w.set("patient", patient)
        w.merge(otherElements)
        return w.json
    }

    static let modelled: Set<String> = [
        "resourceType", "id", "identifier", "manufacturer", "serialNumber", "deviceName", "modelNumber", "type", "version", "patient",
    ]

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Device" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Device, found \(type)")
        }
        id = try r.string("id")
        identifier = try r.array("identifier", of: Identifier.self)
        manufacturer = try r.string("manufacturer")
        serialNumber = try r.string("serialNumber")
        deviceName = try r.array("deviceName", of: DeviceName.self)
        modelNumber = try r.string("modelNumber")
        type = try r.element("type", as: CodeableConcept.self)
        version = try r.array("version", of: Version.self)
        patient = try r.element("patient", as: Reference.self)
        otherElements = r.unknownMembers(excluding: Self.modelled)
    }
}

/// FHIR R4 `Patient`, as far as identity resolution needs it: identifiers.
package struct Patient: Hashable, Sendable, FHIRJSONRepresentable {
    package var id: String?
    package var identifier: [Identifier]
    package var otherElements: JSONObject

    package init(id: String? = nil, identifier: [Identifier] = [], otherElements: JSONObject = JSONObject()) {
        self.id = id
        self.identifier = identifier
        self.otherElements = otherElements
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Patient")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("identifier", identifier)
        w.merge(otherElements)
        return w.json
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Patient" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Patient, found \(type)")
        }
        id = try r.string("id")
        identifier = try r.array("identifier", of: Identifier.self)
        otherElements = r.unknownMembers(excluding: ["resourceType", "id", "identifier"])
    }
}
