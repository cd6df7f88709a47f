import FHIRModel
import Foundation
import JSONQuery
import TestSupport
@testable import Upstream
import XCTest

/// A FHIR server for identity resolution behind the transport seam: Devices and Patients by id,
/// search by identifier, conditional create (`If-None-Exist`), and bundles, which go to the
/// `FakeFHIRServer` inside. Can be taken offline.
actor IdentityFHIRServer: HTTPTransport {
    let bundles = FakeFHIRServer()
    private(set) var resources: [String: JSONValue] = [:]
    private(set) var requests: [UpstreamRequest] = []
    private var created = 0
    var offline = false
    /// Answer creates with 201 and nothing else (no Location, no body), as `Prefer: return=minimal` servers may.
    var minimalCreates = false

    func setMinimalCreates(_ value: Bool) { minimalCreates = value }

    func setOffline(_ value: Bool) { offline = value }

    /// Stores a Device (with a patient, unless nil) under `id`.
    func addDevice(id: String, system: String?, value: String, patient: String?) {
        var identifier: JSONObject = [:]
        if let system { identifier["system"] = .string(system) }
        identifier["value"] = .string(value)
        var device: JSONObject = ["resourceType": "Device", "id": .string(id), "identifier": .array([.object(identifier)])]
        if let patient { device["patient"] = .object(["reference": .string("Patient/" + patient)]) }
        resources["Device/" + id] = .object(device)
    }

    func remove(_ key: String) { resources[key] = nil }

    /// Requests other than bundles, as `METHOD path?query` (relative to the base).
    var identityCalls: [String] {
        requests.filter { !($0.method == "POST" && $0.url == FakeFHIRServer.base) }.map { "\($0.method) \($0.url.dropFirst(FakeFHIRServer.base.count + 1))" }
    }

    /// The bundle entries' resources the server was sent, in order.
    func bundledResources() async -> [JSONObject] {
        await bundles.requests.flatMap { request -> [JSONObject] in
            guard let json = try? JSONValue(parsing: request.body), let bundle = try? FHIRModel.Bundle(json: json) else { return [] }
            return bundle.entry.compactMap { if case .object(let object)? = $0.resource { object } else { nil } }
        }
    }

    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        requests.append(request)
        if offline { throw UpstreamTransportError(.connectionRefused, "offline", url: request.url) }
        if request.method == "POST", request.url == FakeFHIRServer.base { return try await bundles.send(request) }
        let path = String(request.url.dropFirst(FakeFHIRServer.base.count + 1))
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        switch (request.method, parts.count) {
        case ("GET", 2):
            let query = parts[1].removingPercentEncoding ?? parts[1]
            let wanted = String(query.dropFirst("identifier=".count))
            let matches = resources.filter { $0.key.hasPrefix(parts[0] + "/") && Self.matches($0.value, wanted) }.sorted { $0.key < $1.key }
            let bundle = FHIRModel.Bundle(type: "searchset", total: Int64(matches.count), entry: matches.map { FHIRModel.Bundle.Entry(resource: $0.value) })
            return UpstreamResponse(status: 200, body: Self.bytes(bundle.json))
        case ("GET", 1):
            guard let resource = resources[path] else { return UpstreamResponse(status: 404, body: Self.bytes(FakeFHIRServer.outcome("gone").json)) }
            return UpstreamResponse(status: 200, headers: ["ETag": "W/\"1\""], body: Self.bytes(resource))
        case ("POST", 1):
            guard case .object(var resource)? = try? JSONValue(parsing: request.body) else { return UpstreamResponse(status: 400) }
            if let condition = request.headers["If-None-Exist"]?.removingPercentEncoding {
                let wanted = String(condition.dropFirst("identifier=".count))
                if let (key, existing) = resources.first(where: { $0.key.hasPrefix(path + "/") && Self.matches($0.value, wanted) }) {
                    return UpstreamResponse(status: 200, headers: ["Location": "\(FakeFHIRServer.base)/\(key)/_history/1"], body: Self.bytes(existing))
                }
            }
            created += 1
            let id = "\(path.lowercased())-srv-\(created)"
            resource["id"] = .string(id)
            resources[path + "/" + id] = .object(resource)
            if minimalCreates { return UpstreamResponse(status: 201) }
            return UpstreamResponse(status: 201, headers: ["Location": "\(FakeFHIRServer.base)/\(path)/\(id)/_history/1", "ETag": "W/\"1\""],
                                    body: Self.bytes(.object(resource)))
        case ("PUT", 1):
            guard case .object(let resource)? = try? JSONValue(parsing: request.body), resources[path] != nil else { return UpstreamResponse(status: 400) }
            resources[path] = .object(resource)
            return UpstreamResponse(status: 200, headers: ["ETag": "W/\"2\""], body: Self.bytes(.object(resource)))
        default:
            return UpstreamResponse(status: 405)
        }
    }

    /// `system|value` or `value` against a resource's identifiers.
    static func matches(_ resource: JSONValue, _ token: String) -> Bool {
        guard case .object(let object) = resource, case .array(let identifiers)? = object["identifier"] else { return false }
        let parts = token.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return identifiers.contains { identifier in
            guard case .object(let id) = identifier, case .string(let value)? = id["value"] else { return false }
            let system: String = if case .string(let text)? = id["system"] { text } else { "" }
            return parts.count == 2 ? (system == parts[0] && value == parts[1]) : value == parts[0]
        }
    }

    static func bytes(_ json: JSONValue) -> [UInt8] { FakeFHIRServer.bytes(json) }
}

extension XCTestCase {
    /// An uploader on the fixture's store, the fixture's clock and `server`, as the identity tests use it.
    func uploader(_ fixture: UploadFixture, _ server: IdentityFHIRServer, _ settings: UploadSettings = UploadSettings()) -> Uploader {
        Uploader(store: fixture.store, client: FHIRClient(baseURL: FakeFHIRServer.base, transport: server), settings: settings,
                 now: fixture.clock.function, sleep: fixture.clock.sleep, randomSeed: 1)
    }

    /// The string at `path` inside a resource, or nil.
    static func string(_ object: JSONObject, _ path: String...) -> String? {
        var current: JSONValue = .object(object)
        for key in path {
            guard case .object(let next) = current, let value = next[key] else { return nil }
            current = value
        }
        if case .string(let text) = current { return text }
        return nil
    }
}
