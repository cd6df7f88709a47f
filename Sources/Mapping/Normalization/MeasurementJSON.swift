import EdgeCore
package import JSONQuery

extension Measurement {
    /// The upstream normalized-message shape (PascalCase names, string values), as `fhir-edge map`
    /// prints it and the IoMT conformance cases list it. `IngestionTimeUtc` appears only when set.
    package var normalizedJSON: JSONValue {
        var object: JSONObject = [
            "Type": .string(type),
            "OccurrenceTimeUtc": .string(occurrenceTime.iso8601),
        ]
        if let ingestionTime { object["IngestionTimeUtc"] = .string(ingestionTime.iso8601) }
        object["DeviceId"] = .string(deviceId)
        object["PatientId"] = patientId.map(JSONValue.string) ?? .null
        object["EncounterId"] = encounterId.map(JSONValue.string) ?? .null
        object["CorrelationId"] = correlationId.map(JSONValue.string) ?? .null
        object["Properties"] = .array(properties.map { ["Name": .string($0.name), "Value": .string($0.value)] })
        return .object(object)
    }
}
