import FHIRModel
import Foundation
import JSONQuery
import Upstream

/// An in-process FHIR server behind the transport seam: batch and transaction bundles, PUT by
/// id with If-Match, conditional create with ifNoneExist, GET by id, and scripted faults.
actor FakeFHIRServer: HTTPTransport {
    static let base = "http://fhir.test/r4"

    enum Fault: Sendable {
        /// Process this request normally.
        case pass
        /// Answer with this status (and Retry-After) without processing the request.
        case status(Int, retryAfter: String? = nil)
        /// Fail without processing the request.
        case transport(UpstreamTransportError.Kind)
        /// Process the request, then lose the reply (the client sees a timeout).
        case dropReply
        /// Answer a PUT with 412 as if another writer got there first.
        case preconditionFailed
    }

    struct Stored: Sendable {
        var json: JSONValue
        var version: Int
    }

    private(set) var resources: [String: Stored] = [:]
    private(set) var requests: [UpstreamRequest] = []
    /// Writes that changed stored resources, by `Type/id`.
    private(set) var writes: [String: Int] = [:]
    private var faults: [Fault] = []
    private var createdCount = 0
    /// Diagnostics for resources the server refuses (422), nil to accept.
    private let refuse: @Sendable (JSONValue) -> String?

    init(refuse: @escaping @Sendable (JSONValue) -> String? = { _ in nil }) {
        self.refuse = refuse
    }

    func inject(_ faults: [Fault]) {
        self.faults += faults
    }

    func store(_ key: String, _ json: JSONValue, version: Int = 1) {
        resources[key] = Stored(json: json, version: version)
    }

    var bundleRequests: Int { requests.filter { $0.method == "POST" && $0.url == Self.base }.count }

    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        requests.append(request)
        if !faults.isEmpty {
            switch faults.removeFirst() {
            case .pass:
                break
            case .status(let status, let retryAfter):
                var headers = HTTPHeaders()
                if let retryAfter { headers.set("Retry-After", retryAfter) }
                return UpstreamResponse(status: status, headers: headers)
            case .transport(let kind):
                throw UpstreamTransportError(kind, "injected", url: request.url)
            case .dropReply:
                _ = handle(request)
                throw UpstreamTransportError(.timeout, "reply lost after the server committed", url: request.url)
            case .preconditionFailed:
                return UpstreamResponse(status: 412, body: Self.bytes(Self.outcome("version conflict").json))
            }
        }
        return handle(request)
    }

    private func handle(_ request: UpstreamRequest) -> UpstreamResponse {
        guard request.url.hasPrefix(Self.base) else { return UpstreamResponse(status: 404) }
        let path = String(request.url.dropFirst(Self.base.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        switch (request.method, path.isEmpty) {
        case ("POST", true):
            return bundle(request)
        case ("GET", false):
            guard let stored = resources[path] else { return UpstreamResponse(status: 404, body: Self.bytes(Self.outcome("not found").json)) }
            return UpstreamResponse(status: 200, headers: ["ETag": "W/\"\(stored.version)\""], body: Self.bytes(stored.json))
        case ("PUT", false):
            guard let json = try? JSONValue(parsing: request.body) else { return UpstreamResponse(status: 400) }
            if let ifMatch = request.headers["If-Match"], ifMatch != "W/\"\(resources[path]?.version ?? 0)\"" {
                return UpstreamResponse(status: 412, body: Self.bytes(Self.outcome("version conflict").json))
            }
            let result = put(path, json, into: &resources)
            if result.status < 300 { writes[path, default: 0] += 1 }
            return UpstreamResponse(status: result.status, headers: ["Location": result.location ?? "", "ETag": "W/\"\(resources[path]?.version ?? 0)\""],
                                    body: result.outcome.map { Self.bytes($0.json) } ?? [])
        default:
            return UpstreamResponse(status: 405)
        }
    }

    private struct EntryResult {
        var status: Int
        var location: String?
        var outcome: OperationOutcome?
    }

    private func bundle(_ request: UpstreamRequest) -> UpstreamResponse {
        guard let json = try? JSONValue(parsing: request.body), let bundle = try? FHIRModel.Bundle(json: json) else {
            return UpstreamResponse(status: 400, body: Self.bytes(Self.outcome("not a bundle").json))
        }
        var working = resources
        var results: [EntryResult] = []
        for entry in bundle.entry {
            let result = apply(entry, to: &working)
            results.append(result)
            if bundle.type == "transaction", result.status >= 400 {
                return UpstreamResponse(status: result.status, body: Self.bytes((result.outcome ?? Self.outcome("failed")).json))
            }
        }
        for (key, stored) in working where resources[key]?.version != stored.version {
            writes[key, default: 0] += 1
        }
        resources = working
        let reply = FHIRModel.Bundle(type: bundle.type + "-response", entry: results.map {
            FHIRModel.Bundle.Entry(response: FHIRModel.Bundle.Response(status: "\($0.status)", location: $0.location, outcome: $0.outcome?.json))
        })
        return UpstreamResponse(status: 200, body: Self.bytes(reply.json))
    }

    private func apply(_ entry: FHIRModel.Bundle.Entry, to store: inout [String: Stored]) -> EntryResult {
        guard let request = entry.request, let resource = entry.resource else { return EntryResult(status: 400, outcome: Self.outcome("no request")) }
        switch request.method {
        case "PUT":
            return put(request.url, resource, into: &store)
        case "POST":
            if let condition = request.ifNoneExist?.removingPercentEncoding, condition.hasPrefix("identifier=") {
                let wanted = String(condition.dropFirst("identifier=".count))
                if let (key, stored) = store.first(where: { Self.identifier($0.value.json) == wanted }) {
                    return EntryResult(status: 200, location: "\(key)/_history/\(stored.version)")
                }
            }
            if let reason = refuse(resource) { return EntryResult(status: 422, outcome: Self.outcome(reason)) }
            createdCount += 1
            let key = "\(request.url)/srv-\(createdCount)"
            var json = resource
            if case .object(var object) = json { object["id"] = .string("srv-\(createdCount)"); json = .object(object) }
            store[key] = Stored(json: json, version: 1)
            return EntryResult(status: 201, location: "\(key)/_history/1")
        default:
            return EntryResult(status: 405, outcome: Self.outcome("unsupported"))
        }
    }

    private func put(_ key: String, _ resource: JSONValue, into store: inout [String: Stored]) -> EntryResult {
        if let reason = refuse(resource) { return EntryResult(status: 422, outcome: Self.outcome(reason)) }
        let version = (store[key]?.version ?? 0) + 1
        let created = store[key] == nil
        store[key] = Stored(json: resource, version: version)
        return EntryResult(status: created ? 201 : 200, location: "\(key)/_history/\(version)")
    }

    static func identifier(_ json: JSONValue) -> String? {
        guard case .object(let object) = json, case .array(let identifiers)? = object["identifier"],
              case .object(let first)? = identifiers.first, case .string(let value)? = first["value"] else { return nil }
        if case .string(let system)? = first["system"] { return system + "|" + value }
        return value
    }

    static func outcome(_ text: String) -> OperationOutcome {
        OperationOutcome(issue: [.init(severity: "error", code: "processing", diagnostics: text)])
    }

    static func bytes(_ json: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        JSONWriter().write(json, into: &out)
        return out
    }
}
