package import JSONQuery

/// FHIR `Quantity` (also used for `SimpleQuantity`).
package struct Quantity: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var value: FHIRDecimal?
    package var comparator: String?
    package var unit: String?
    package var system: String?
    package var code: String?

    package init(value: FHIRDecimal? = nil, comparator: String? = nil, unit: String? = nil, system: String? = nil, code: String? = nil) {
        self.value = value
        self.comparator = comparator
        self.unit = unit
        self.system = system
        self.code = code
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("value", value)
        w.set("comparator", comparator)
        w.set("unit", unit)
        w.set("system", system)
        w.set("code", code)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.decimal("value", value)
        w.string("comparator", comparator)
        w.string("unit", unit)
        w.string("system", system)
        w.string("code", code)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        value = try r.decimal("value")
        comparator = try r.string("comparator")
        unit = try r.string("unit")
        system = try r.string("system")
        code = try r.string("code")
    }
}

/// FHIR `SampledData`: a series of evenly spaced readings as one space-separated string;
/// `E` marks a slot without a reading.
package struct SampledData: Hashable, Sendable, FHIRJSONRepresentable, FHIRByteWritable {
    package var origin: Quantity
    /// Milliseconds between slots.
    package var period: FHIRDecimal
    package var factor: FHIRDecimal?
    package var lowerLimit: FHIRDecimal?
    package var upperLimit: FHIRDecimal?
    package var dimensions: Int64
    package var data: String?

    package init(
        origin: Quantity, period: FHIRDecimal, factor: FHIRDecimal? = nil, lowerLimit: FHIRDecimal? = nil,
        upperLimit: FHIRDecimal? = nil, dimensions: Int64 = 1, data: String? = nil
    ) {
        self.origin = origin
        self.period = period
        self.factor = factor
        self.lowerLimit = lowerLimit
        self.upperLimit = upperLimit
        self.dimensions = dimensions
        self.data = data
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        // origin is required by FHIR even when it carries only a zero value.
        w.set("origin", raw: origin.json)
        w.set("period", period)
        w.set("factor", factor)
        w.set("lowerLimit", lowerLimit)
        w.set("upperLimit", upperLimit)
        w.set("dimensions", dimensions)
        w.set("data", data)
        return w.json
    }

    func writeMembers(to w: inout FHIRByteWriter) {
        w.required("origin", origin)
        w.decimal("period", period)
        w.decimal("factor", factor)
        w.decimal("lowerLimit", lowerLimit)
        w.decimal("upperLimit", upperLimit)
        w.integer("dimensions", dimensions)
        w.string("data", data)
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        origin = try r.element("origin", as: Quantity.self) ?? Quantity()
        guard let period = try r.decimal("period") else {
            throw FHIRDecodingError(path: "\(path).period", message: "required member is missing")
        }
        self.period = period
        factor = try r.decimal("factor")
        lowerLimit = try r.decimal("lowerLimit")
        upperLimit = try r.decimal("upperLimit")
        guard let dimensions = try r.integer("dimensions") else {
            throw FHIRDecodingError(path: "\(path).dimensions", message: "required member is missing")
        }
        self.dimensions = dimensions
        data = try r.string("data")
    }
}
