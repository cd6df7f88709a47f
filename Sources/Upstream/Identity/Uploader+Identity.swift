import FHIRConventions
import EdgeCore
import EdgeCrypto
import FHIRModel
import JSONQuery
import Logging
package import Store

/// How resolving one identity ended.
enum IdentityResolution: Sendable, Equatable {
    case resolved(ServerIdentity)
    /// Sending cannot help until someone acts: no such Device, a Device without patient,
    /// several matches, or a create the server refused. The resource becomes a dead letter.
    case failed(errorType: String, message: String)
    /// The server cannot answer now (offline, 5xx, throttled): keep and back off.
    case unavailable(retryAfter: Duration?)
}

/// A lease after identity resolution: resources ready for the bundle (references rewritten),
/// resources settled without one (Patients and Devices created by identifier, dead letters),
/// and, when the server could not answer, those kept and the pause before the next lease.
struct PreparedLease: Sendable {
    var ready: [OutboxItem] = []
    var settlements: [OutboxSettlement] = []
    var pause: Duration?
}

/// Answers gathered while preparing one lease, written to the store in one transaction.
struct ResolutionSession {
    var records: [ServerIdentity] = []
    var events: [JournalEvent] = []
    /// Failures are not cached across leases (MedTech), but asked once per lease.
    var failures: [IdentityKey: IdentityResolution] = [:]
}

extension JournalKind {
    /// One call to the upstream server to resolve a Device or Patient identifier (identifiers
    /// only: a Patient is named by the hash of its identifier).
    package static let identityResolution = JournalKind("identity.resolution")
}

extension Uploader {
    /// Whether the lease holds anything identity resolution applies to: Lookup placeholders,
    /// or anything at all under conditional create, where the server assigns Patient and Device ids.
    func needsIdentityResolution(_ items: [OutboxItem]) -> Bool {
        settings.idempotency == .conditionalCreate || items.contains { ResourceReferences.mayHoldPlaceholder($0.resource.body) }
    }

    /// Resolves the identities a lease's resources need, in lease order (a Device after its
    /// Patient, Observations after both). Once the server is unreachable the rest of the lease
    /// is kept and the uploader backs off, as for a failed bundle.
    func prepareIdentities(_ items: [OutboxItem]) async throws(StoreError) -> PreparedLease {
        if !identities.isLoaded { identities.load(try await store.serverIdentities()) }
        var session = ResolutionSession()
        var prepared = PreparedLease()
        var kept: [OutboxID] = []
        var retryAfter: Duration??
        for item in items {
            if retryAfter != nil {
                kept.append(item.id)
                continue
            }
            switch await prepare(item, &session) {
            case .ready(let ready): prepared.ready.append(ready)
            case .settle(let outcome): prepared.settlements.append(OutboxSettlement(item.id, outcome))
            case .unavailable(let wait):
                retryAfter = .some(wait)
                kept.append(item.id)
            }
        }
        if !session.records.isEmpty || !session.events.isEmpty {
            try await store.recordServerIdentities(session.records, journal: session.events)
        }
        if let wait = retryAfter {
            let pause = machine.failedWithoutBundle(retryAfter: wait)
            let retryAt = now().adding(milliseconds: pause.wholeMilliseconds)
            prepared.settlements += kept.map { OutboxSettlement($0, .keep(retryAt: retryAt)) }
            prepared.pause = pause
        }
        return prepared
    }

    private enum Preparation {
        case ready(OutboxItem)
        case settle(OutboxOutcome)
        case unavailable(Duration?)
    }

    private func prepare(_ item: OutboxItem, _ session: inout ResolutionSession) async -> Preparation {
        let resource = item.resource
        let conditional = settings.idempotency == .conditionalCreate
        let placeholder = ResourceReferences.mayHoldPlaceholder(resource.body)
        guard conditional || placeholder, case .object(var object)? = try? JSONValue(parsing: resource.body) else { return .ready(item) }

        if conditional, resource.resourceType == "Patient" || resource.resourceType == "Device" {
            // Created by identifier; the server's id is what later references need.
            guard let identifier = ResourceReferences.firstIdentifier(object) else { return .ready(item) }
            var patientServerID: String?
            if resource.resourceType == "Device", let local = ResourceReferences.id(ResourceReferences.reference(object, "patient"), type: "Patient") {
                switch await resolveLocal("Patient", local, for: item, &session) {
                case .resolved(let patient)?:
                    patientServerID = patient.serverID
                    if let id = patient.serverID { ResourceReferences.setReference(&object, "patient", "Patient/" + id) }
                case .failed(let type, let message)?: return .settle(.reject(errorType: type, errorMessage: message))
                case .unavailable(let wait)?: return .unavailable(wait)
                case nil: break
                }
            }
            object["id"] = nil
            let key = IdentityKey(resource.resourceType, system: identifier.system, value: identifier.value)
            switch await resolve(key, localID: resource.resourceID, creating: object, patientServerID: patientServerID, for: item, &session) {
            case .resolved(let identity): return .settle(.accept(serverID: identity.serverID, serverVersion: identity.serverVersion))
            case .failed(let type, let message): return .settle(.reject(errorType: type, errorMessage: message))
            case .unavailable(let wait): return .unavailable(wait)
            }
        }

        var changed = false
        if let reference = ResourceReferences.id(ResourceReferences.reference(object, "device"), type: "Device"),
           let device = ResourceIds.lookupDevice(placeholder: reference) {
            let key = IdentityKey("Device", system: device.system, value: device.value)
            // A room or equipment reading names its Device as subject and needs no patient.
            let deviceSubject = ResourceReferences.id(ResourceReferences.reference(object, "subject"), type: "Device") == reference
            switch await resolve(key, localID: nil, creating: nil, patientServerID: nil, for: item, &session) {
            case .resolved(let identity):
                guard let deviceID = identity.serverID else {
                    return .settle(.reject(errorType: "FhirResourceNotFoundException", errorMessage: Self.noPatient(key)))
                }
                if deviceSubject {
                    object = ResourceReferences.resolvingLookup(object, placeholder: reference, subject: "Device/" + deviceID, deviceID: deviceID)
                } else {
                    guard let patientID = identity.patientServerID else {
                        return .settle(.reject(errorType: "FhirResourceNotFoundException", errorMessage: Self.noPatient(key)))
                    }
                    object = ResourceReferences.resolvingLookup(object, placeholder: reference, subject: "Patient/" + patientID, deviceID: deviceID)
                }
                changed = true
            case .failed(let type, let message): return .settle(.reject(errorType: type, errorMessage: message))
            case .unavailable(let wait): return .unavailable(wait)
            }
        } else if conditional {
            var resolved: [String: ServerIdentity] = [:]
            // The subject is a Patient, or the Device itself for room and equipment readings.
            for (member, types) in [("subject", ["Patient", "Device"]), ("device", ["Device"])] {
                let reference = ResourceReferences.reference(object, member)
                guard let found = types.lazy.compactMap({ type in ResourceReferences.id(reference, type: type).map { (type, $0) } }).first
                else { continue }
                let (type, local) = found
                switch await resolveLocal(type, local, for: item, &session) {
                case .resolved(let identity)?:
                    if member == "subject", type == "Patient" { resolved["Patient"] = identity }
                    if member == "device" { resolved["Device"] = identity }
                    if let id = identity.serverID, id != local {
                        ResourceReferences.setReference(&object, member, type + "/" + id)
                        changed = true
                    }
                case .failed(let type, let message)?: return .settle(.reject(errorType: type, errorMessage: message))
                case .unavailable(let wait)?: return .unavailable(wait)
                case nil: continue
                }
            }
            // The server's Device belongs to another patient than the reading names: never guess which is right.
            if let device = resolved["Device"], let linked = device.patientServerID, let subject = resolved["Patient"]?.serverID, linked != subject {
                let key = IdentityKey(device)
                return .settle(.reject(errorType: "PatientDeviceMismatchException", errorMessage: """
                    the Device with identifier \(Self.named(key)) on the upstream server is linked to another Patient than this \
                    reading names; correct Device.patient on the server (or the device's patient id), then replay this dead letter
                    """))
            }
        }
        guard changed else { return .ready(item) }
        var ready = item
        ready.resource.body = JSONWriter().string(.object(object))
        // A Lookup Observation's id follows its resolved identifier, and a PUT goes to that id.
        if case .string(let id)? = object["id"] { ready.resource.resourceID = id }
        return .ready(ready)
    }

    /// The server's resource for a reference to the gateway's own id (Create mode's
    /// `Patient/<hash>`), created again from its identifier when the server lost it; nil when
    /// the id is not one the gateway made (the reference is sent as it is).
    private func resolveLocal(_ type: String, _ localID: String, for item: OutboxItem, _ session: inout ResolutionSession) async -> IdentityResolution? {
        guard let key = identities.key(localReference: type, id: localID) else { return nil }
        let known = identities[key]
        var body: JSONObject = ["resourceType": .string(type)]
        var identifier: JSONObject = [:]
        if !key.system.isEmpty { identifier["system"] = .string(key.system) }
        identifier["value"] = .string(key.value)
        body["identifier"] = .array([.object(identifier)])
        if type == "Device", let patient = known?.patientServerID { body["patient"] = .object(["reference": .string("Patient/" + patient)]) }
        return await resolve(key, localID: localID, creating: body, patientServerID: known?.patientServerID, for: item, &session)
    }

    /// The server's id for `key`: from the map when fresh; read by id when old (a 404 or 410
    /// drops it); else created by identifier (`creating`, Create mode) or searched (Lookup).
    private func resolve(
        _ key: IdentityKey, localID: String?, creating body: JSONObject?, patientServerID: String?, for item: OutboxItem,
        _ session: inout ResolutionSession
    ) async -> IdentityResolution {
        if let failure = session.failures[key] { return failure }
        let outcome = await resolveUncached(key, localID: localID, creating: body, patientServerID: patientServerID, for: item, &session)
        if case .resolved = outcome {} else { session.failures[key] = outcome }
        return outcome
    }

    private func resolveUncached(
        _ key: IdentityKey, localID: String?, creating body: JSONObject?, patientServerID: String?, for item: OutboxItem,
        _ session: inout ResolutionSession
    ) async -> IdentityResolution {
        switch identities.decide(key, now: now()) {
        case .fresh(let entry):
            counters.identityCacheHits += 1
            if let localID, entry.localID != localID {
                var linked = entry
                linked.localID = localID
                remember(linked, &session)
                return .resolved(linked)
            }
            return .resolved(entry)
        case .stale(let entry):
            guard let serverID = entry.serverID else { break }
            let reply = await call(client.request("GET", key.resourceType + "/" + serverID), key, "read", for: item, &session)
            switch reply {
            case .success(let response) where response.status == 404 || response.status == 410:
                counters.identityInvalidated += 1
                if let invalidated = identities.invalidate(key, now: now()) { session.records.append(invalidated) }
                note(key, "read", status: response.status, outcome: "invalidated", serverID: serverID, for: item, &session)
                logger.notice("a cached server id is gone; resolving the identifier again", metadata: [
                    "edge.identity": "\(key)", "edge.upstream.status": "\(response.status)",
                ])
            case .success(let response) where (200..<300).contains(response.status):
                guard case .object(let resource)? = try? JSONValue(parsing: response.body) else {
                    return .unavailable(retryAfter: nil)
                }
                var refreshed = Self.identity(key, resource, response, localID: localID ?? entry.localID, now: now())
                refreshed.serverID = refreshed.serverID ?? serverID
                if key.resourceType == "Device", refreshed.patientServerID == nil, body != nil {
                    refreshed.patientServerID = entry.patientServerID
                }
                note(key, "read", status: response.status, outcome: "resolved", serverID: serverID, for: item, &session)
                remember(refreshed, &session)
                // Whether a Device without patient will do is the reading's to say (see `prepare`).
                return .resolved(refreshed)
            case .success(let response):
                return failure(response, key, "read", for: item, &session)
            case .failure:
                return .unavailable(retryAfter: nil)
            }
        case .unresolved:
            break
        }
        if let body {
            return await create(key, body, localID: localID, patientServerID: patientServerID, for: item, &session)
        }
        return await search(key, for: item, &session)
    }

    /// `POST [type]` with `If-None-Exist: identifier=system|value` (`|value` for an identifier
    /// without system, which matches only identifiers without one): the server's existing resource (200)
    /// or a new one (201), its id from `Location` or the body.
    private func create(
        _ key: IdentityKey, _ body: JSONObject, localID: String?, patientServerID: String?, for item: OutboxItem,
        _ session: inout ResolutionSession
    ) async -> IdentityResolution {
        var bytes: [UInt8] = []
        JSONWriter().write(.object(body), into: &bytes)
        var headers = HTTPHeaders()
        headers.set("If-None-Exist", "identifier=" + EntryBuilder.tokenParameter(system: key.system, value: key.value))
        headers.set("Prefer", "return=representation")
        let reply = await call(client.request("POST", key.resourceType, body: bytes, headers: headers), key, "create", for: item, &session)
        guard case .success(let response) = reply else { return .unavailable(retryAfter: nil) }
        guard (200..<300).contains(response.status) else { return failure(response, key, "create", for: item, &session) }
        let resource: JSONObject = if case .object(let object)? = try? JSONValue(parsing: response.body) { object } else { [:] }
        var identity = Self.identity(key, resource, response, localID: localID, now: now())
        guard let serverID = identity.serverID else {
            // Neither Location nor a body: the search by identifier finds what was just created.
            note(key, "create", status: response.status, outcome: "no-id", serverID: nil, for: item, &session)
            guard case .resolved(var found) = await search(key, for: item, &session) else { return .unavailable(retryAfter: nil) }
            found.localID = localID ?? found.localID
            if found.patientServerID == nil { found.patientServerID = patientServerID }
            remember(found, &session)
            return .resolved(found)
        }
        note(key, "create", status: response.status, outcome: response.status == 201 ? "created" : "matched",
             serverID: serverID, for: item, &session)
        if key.resourceType == "Device", identity.patientServerID == nil, let patientServerID {
            if response.status == 201 || resource.isEmpty {
                identity.patientServerID = patientServerID
            } else {
                // An existing Device without patient gets this one (MedTech sets it and PUTs the Device).
                var linked = resource
                ResourceReferences.setReference(&linked, "patient", "Patient/" + patientServerID)
                var bytes: [UInt8] = []
                JSONWriter().write(.object(linked), into: &bytes)
                var headers = HTTPHeaders()
                if let version = identity.serverVersion { headers.set("If-Match", "W/\"\(version)\"") }
                let put = await call(client.request("PUT", "Device/" + serverID, body: bytes, headers: headers), key, "link", for: item, &session)
                guard case .success(let reply) = put else { return .unavailable(retryAfter: nil) }
                guard (200..<300).contains(reply.status) else {
                    // 412: changed meanwhile; the next round matches it again.
                    if reply.status == 409 || reply.status == 412 { return .unavailable(retryAfter: nil) }
                    return failure(reply, key, "link", for: item, &session)
                }
                note(key, "link", status: reply.status, outcome: "linked", serverID: serverID, for: item, &session)
                identity.patientServerID = patientServerID
                identity.serverVersion = ServerVersion(location: reply.headers["Location"], etag: reply.headers["ETag"]).version ?? identity.serverVersion
            }
        }
        remember(identity, &session)
        return .resolved(identity)
    }

    /// `GET [type]?identifier=system|value` (Lookup; the value alone when the profile names no
    /// system): exactly one match. Whether a Device needs its patient is the caller's to check.
    private func search(_ key: IdentityKey, for item: OutboxItem, _ session: inout ResolutionSession) async -> IdentityResolution {
        let token = key.system.isEmpty
            ? EntryBuilder.encode(EntryBuilder.escapeToken(key.value))
            : EntryBuilder.tokenParameter(system: key.system, value: key.value, separator: "%7C")
        let path = key.resourceType + "?identifier=" + token
        let reply = await call(client.request("GET", path), key, "search", for: item, &session)
        guard case .success(let response) = reply else { return .unavailable(retryAfter: nil) }
        guard (200..<300).contains(response.status) else { return failure(response, key, "search", for: item, &session) }
        guard let json = try? JSONValue(parsing: response.body), let bundle = try? Bundle(json: json) else {
            return .unavailable(retryAfter: nil)
        }
        // Exact matches only: some servers match identifiers loosely (MedTech checks client-side too).
        let matches: [JSONObject] = bundle.entry.compactMap { entry in
            guard case .object(let resource)? = entry.resource, resource["resourceType"] == .string(key.resourceType),
                  case .array(let identifiers)? = resource["identifier"] else { return nil }
            let exact = identifiers.contains { identifier in
                guard case .object(let object) = identifier, object["value"] == .string(key.value) else { return false }
                let system: String = if case .string(let text)? = object["system"] { text } else { "" }
                return key.system.isEmpty || system == key.system
            }
            return exact ? resource : nil
        }
        switch matches.count {
        case 0:
            counters.identityNotFound += 1
            note(key, "search", status: response.status, outcome: "not-found", serverID: nil, for: item, &session)
            logger.warning("no resource on the server has the identifier; the resource goes to the dead letters", metadata: [
                "edge.identity": "\(key)",
            ])
            return .failed(errorType: "FhirResourceNotFoundException", message: """
                no \(key.resourceType) with identifier \(Self.named(key)) on the upstream server (identity mode Lookup); \
                create it there, linked to its Patient, then replay this dead letter
                """)
        case 1:
            let identity = Self.identity(key, matches[0], nil, localID: nil, now: now())
            note(key, "search", status: response.status, outcome: "resolved", serverID: identity.serverID, for: item, &session)
            remember(identity, &session)
            return .resolved(identity)
        default:
            note(key, "search", status: response.status, outcome: "multiple", serverID: nil, for: item, &session)
            return .failed(errorType: "MultipleResourceFoundException", message: """
                \(matches.count) \(key.resourceType) resources on the upstream server have the identifier \(Self.named(key)); \
                remove the duplicates, then replay this dead letter
                """)
        }
    }

    private static func noPatient(_ key: IdentityKey) -> String {
        "the Device with identifier \(named(key)) on the upstream server has no patient; link it to its Patient, then replay this dead letter"
    }

    /// A non-2xx answer to a resolution call: 4xx is the resource's fault (dead letter), the
    /// rest is the server's (keep).
    private func failure(_ response: UpstreamResponse, _ key: IdentityKey, _ call: String, for item: OutboxItem,
                         _ session: inout ResolutionSession) -> IdentityResolution {
        let body = Self.replyBody(response)
        let hasOutcome = if case .outcome = body { true } else { false }
        switch Classification.entry(status: response.status, hasOperationOutcome: hasOutcome) {
        case .reject:
            note(key, call, status: response.status, outcome: "refused", serverID: nil, for: item, &session)
            let reason: String = if case .outcome(let outcome) = body, !outcome.issue.isEmpty { outcome.summary } else { "HTTP \(response.status)" }
            return .failed(errorType: "upstream-\(response.status)",
                           message: "the upstream server refused to \(call) the \(key.resourceType) with identifier \(Self.named(key)): \(reason)")
        case .accept, .keep:
            note(key, call, status: response.status, outcome: "unavailable", serverID: nil, for: item, &session)
            return .unavailable(retryAfter: RetryAfter.parse(response.headers["Retry-After"], now: now()))
        }
    }

    /// Sends one resolution call, counted; a transport failure is journaled here, answers by the caller.
    private func call(_ request: UpstreamRequest, _ key: IdentityKey, _ call: String, for item: OutboxItem,
                      _ session: inout ResolutionSession) async -> Result<UpstreamResponse, UpstreamTransportError> {
        counters.identityRequests += 1
        do {
            return .success(try await client.send(request))
        } catch {
            counters.lastError = error.description
            var details = Self.details(key, call, outcome: "unavailable", serverID: nil)
            details["error"] = .string(error.kind.rawValue)
            session.events.append(JournalEvent(kind: .identityResolution, actor: "uploader", subjects: [.outbox(item.id)], details: details))
            logger.warning("identity resolution failed; the resources wait", metadata: ["edge.upstream.error": "\(error.kind)"])
            return .failure(error)
        }
    }

    private func note(_ key: IdentityKey, _ call: String, status: Int, outcome: String, serverID: String?, for item: OutboxItem,
                      _ session: inout ResolutionSession) {
        var details = Self.details(key, call, outcome: outcome, serverID: serverID)
        details["status"] = .int(Int64(status))
        session.events.append(JournalEvent(kind: .identityResolution, actor: "uploader", subjects: [.outbox(item.id)], details: details))
    }

    private static func details(_ key: IdentityKey, _ call: String, outcome: String, serverID: String?) -> JSONObject {
        var details: JSONObject = [
            "resourceType": .string(key.resourceType), "identifier": .string(named(key)), "call": .string(call), "outcome": .string(outcome),
        ]
        if let serverID { details["serverId"] = .string(serverID) }
        return details
    }

    private func remember(_ identity: ServerIdentity, _ session: inout ResolutionSession) {
        identities.remember(identity)
        session.records.append(identity)
    }

    /// A Device by its identifier; a Patient by the hash of its identifier (patient data stays out).
    static func named(_ key: IdentityKey) -> String {
        key.resourceType == "Patient" ? "sha256:" + SHA256.hexDigest(key.token) : key.token
    }

    /// The map entry for a resource the server returned.
    static func identity(_ key: IdentityKey, _ resource: JSONObject, _ response: UpstreamResponse?, localID: String?, now: Timestamp) -> ServerIdentity {
        let location = ServerVersion(location: response?.headers["Location"] ?? response?.headers["Content-Location"], etag: response?.headers["ETag"])
        var serverID = location.id
        var version = location.version
        var lastUpdated: String?
        if case .string(let id)? = resource["id"] { serverID = serverID ?? id }
        if case .object(let meta)? = resource["meta"] {
            if case .string(let text)? = meta["versionId"] { version = version ?? text }
            if case .string(let text)? = meta["lastUpdated"] { lastUpdated = text }
        }
        let patient = key.resourceType == "Device" ? ResourceReferences.id(ResourceReferences.reference(resource, "patient"), type: "Patient") : nil
        return ServerIdentity(
            resourceType: key.resourceType, system: key.system, value: key.value, localID: localID, serverID: serverID,
            serverVersion: version, lastUpdated: lastUpdated, patientServerID: patient, resolvedAt: now)
    }
}
