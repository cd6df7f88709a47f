package import JSONQuery

/// FHIR R4 `Bundle`: what the uploader sends (batch / transaction) and what searches return.
/// Entry resources stay JSON; read them with the resource type's `init(json:)`.
package struct Bundle: Hashable, Sendable, FHIRJSONRepresentable {
    package var id: String?
    package var type: String
    package var total: Int64?
    package var entry: [Entry]
    package var otherElements: JSONObject

    package init(id: String? = nil, type: String, total: Int64? = nil, entry: [Entry] = [], otherElements: JSONObject = JSONObject()) {
        self.id = id
        self.type = type
        self.total = total
        self.entry = entry
        self.otherElements = otherElements
    }

    package struct Entry: Hashable, Sendable, FHIRJSONRepresentable {
        package var fullUrl: String?
        package var resource: JSONValue?
        package var request: Request?
        package var response: Response?

        package init(fullUrl: String? = nil, resource: JSONValue? = nil, request: Request? = nil, response: Response? = nil) {
            self.fullUrl = fullUrl
            self.resource = resource
            self.request = request
            self.response = response
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("fullUrl", fullUrl)
            if let resource { w.set("resource", raw: resource) }
            w.set("request", request)
            w.set("response", response)
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            fullUrl = try r.string("fullUrl")
            if let resource = r.object["resource"], !resource.isNull {
                guard case .object = resource else {
                    throw FHIRDecodingError(path: "\(path).resource", message: "expected an object, found \(resource.typeName)")
                }
                self.resource = resource
            }
            request = try r.element("request", as: Request.self)
            response = try r.element("response", as: Response.self)
        }
    }

    /// `Bundle.entry.request`: the REST call an entry of a batch/transaction stands for.
    package struct Request: Hashable, Sendable, FHIRJSONRepresentable {
        package var method: String
        package var url: String
        package var ifNoneMatch: String?
        package var ifModifiedSince: String?
        package var ifMatch: String?
        package var ifNoneExist: String?

        package init(method: String, url: String, ifNoneMatch: String? = nil, ifModifiedSince: String? = nil, ifMatch: String? = nil, ifNoneExist: String? = nil) {
            self.method = method
            self.url = url
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
            self.ifMatch = ifMatch
            self.ifNoneExist = ifNoneExist
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("method", method)
            w.set("url", url)
            w.set("ifNoneMatch", ifNoneMatch)
            w.set("ifModifiedSince", ifModifiedSince)
            w.set("ifMatch", ifMatch)
            w.set("ifNoneExist", ifNoneExist)
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            method = try r.requiredString("method")
            url = try r.requiredString("url")
            ifNoneMatch = try r.string("ifNoneMatch")
            ifModifiedSince = try r.string("ifModifiedSince")
            ifMatch = try r.string("ifMatch")
            ifNoneExist = try r.string("ifNoneExist")
        }
    }

    /// `Bundle.entry.response`: how the server settled one entry.
    package struct Response: Hashable, Sendable, FHIRJSONRepresentable {
        /// HTTP status line, e.g. `201 Created`.
        package var status: String
        package var location: String?
        package var etag: String?
        package var lastModified: String?
        /// An OperationOutcome, as JSON.
        package var outcome: JSONValue?

        package init(status: String, location: String? = nil, etag: String? = nil, lastModified: String? = nil, outcome: JSONValue? = nil) {
            self.status = status
            self.location = location
            self.etag = etag
            self.lastModified = lastModified
            self.outcome = outcome
        }

        /// The numeric HTTP status at the start of `status`, if any.
        package var statusCode: Int? {
            Int(status.prefix { $0 != " " })
        }

        package var json: JSONValue {
            var w = FHIRObjectWriter()
            w.set("status", status)
            w.set("location", location)
            w.set("etag", etag)
            w.set("lastModified", lastModified)
            if let outcome { w.set("outcome", raw: outcome) }
            return w.json
        }

        package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
            let r = try FHIRObjectReader(json, path: path)
            status = try r.requiredString("status")
            location = try r.string("location")
            etag = try r.string("etag")
            lastModified = try r.string("lastModified")
            if let outcome = r.object["outcome"], !outcome.isNull { self.outcome = outcome }
        }
    }

    package var json: JSONValue {
        var w = FHIRObjectWriter()
        w.set("resourceType", "Bundle")
        w.set("id", id)
        if let meta = otherElements["meta"] { w.set("meta", raw: meta) }
        w.set("type", type)
        w.set("total", total)
        if let link = otherElements["link"] { w.set("link", raw: link) }
        w.set("entry", entry)
        w.merge(otherElements)
        return w.json
    }

    package init(json: JSONValue, path: String) throws(FHIRDecodingError) {
        let r = try FHIRObjectReader(json, path: path)
        if let type = try r.string("resourceType"), type != "Bundle" {
            throw FHIRDecodingError(path: "\(path).resourceType", message: "expected Bundle, found \(type)")
        }
        id = try r.string("id")
        type = try r.requiredString("type")
        total = try r.integer("total")
        entry = try r.array("entry", of: Entry.self)
        otherElements = r.unknownMembers(excluding: ["resourceType", "id", "type", "total", "entry"])
    }
}
