package import EdgeCore
import EdgeSystem
import YAML

/// The gateway configuration's `hl7:` section: an MLLP listener taking IHE PCD-01 (ORU^R01) messages.
///
/// ```yaml
/// hl7:
///   listen: 0.0.0.0:2575            # HOST:PORT of the MLLP listener
///   profile: hl7-pcd01-vitals       # the device profile the PCD-01 device messages go to
///   allowedFacilities: [ICU-EAST]   # MSH-4 values taken; others are answered AR. Default: any
///   maxMessageBytes: 1MiB           # a larger frame is answered AR without being buffered
///   idleTimeout: 5m                 # a connection silent this long between messages is closed
///   frameTimeout: 30s               # a message must arrive whole this long after its start block
///   maxConnections: 64
///   tls: {certificate: mllp.pem, key: mllp.key, clientCA: monitors-ca.pem}
///   allowPlaintext: true            # needed to listen beyond loopback without TLS
/// ```
package struct HL7Section: Sendable, Equatable {
    package static let defaultProfile = "hl7-pcd01-vitals"

    package var listen: ListenAddress
    package var profile: String = HL7Section.defaultProfile
    /// MSH-4 (namespace id) values allowed to send; empty: any.
    package var allowedFacilities: Set<String> = []
    package var maxMessageBytes = 1 << 20
    package var idleTimeoutMilliseconds: Int64 = 300_000
    package var frameTimeoutMilliseconds: Int64 = 30_000
    package var maxConnections = 64
    package var tls: GatewayConfiguration.TLS?
    package var allowPlaintext = false

    package init(listen: ListenAddress) {
        self.listen = listen
    }
}

extension ConfigurationDecoder {
    static func decodeHL7(_ node: YAMLNode, reader: inout YAMLNodeReader, baseDirectory: String) -> HL7Section? {
        let keys: Set<String> = [
            "listen", "profile", "allowedFacilities", "maxMessageBytes", "idleTimeout", "frameTimeout", "maxConnections", "tls", "allowPlaintext",
        ]
        guard let members = reader.mapping(node, at: "hl7", known: keys) else { return nil }
        guard let listenNode = members["listen"] else {
            reader.problem("hl7.listen", node, "missing; the HOST:PORT the MLLP listener binds, e.g. 0.0.0.0:2575")
            return nil
        }
        guard let text = reader.string(listenNode, at: "hl7.listen") else { return nil }
        guard let listen = ListenAddress(parsing: text) else {
            reader.problem("hl7.listen", listenNode, "expected HOST:PORT, e.g. 0.0.0.0:2575")
            return nil
        }
        var section = HL7Section(listen: listen)
        if let node = members["profile"], let profile = reader.string(node, at: "hl7.profile") { section.profile = profile }
        if let node = members["allowedFacilities"], let items = reader.sequence(node, at: "hl7.allowedFacilities") {
            for (index, item) in items.enumerated() {
                if let facility = reader.string(item, at: "hl7.allowedFacilities[\(index)]") { section.allowedFacilities.insert(facility) }
            }
        }
        if let node = members["maxMessageBytes"],
           let bytes = reader.size(node, at: "hl7.maxMessageBytes", atMost: 64 << 20, "a message is held in memory until it is committed") {
            section.maxMessageBytes = bytes
        }
        if let node = members["idleTimeout"], let ms = reader.duration(node, at: "hl7.idleTimeout") { section.idleTimeoutMilliseconds = ms }
        if let node = members["frameTimeout"], let ms = reader.duration(node, at: "hl7.frameTimeout") { section.frameTimeoutMilliseconds = ms }
        if let node = members["maxConnections"], let count = reader.integer(node, at: "hl7.maxConnections", range: 1...65_536) {
            section.maxConnections = count
        }
        if let node = members["allowPlaintext"], let value = reader.bool(node, at: "hl7.allowPlaintext") { section.allowPlaintext = value }
        if let node = members["tls"], let tls = reader.mapping(node, at: "hl7.tls", known: ["certificate", "key", "clientCA"]) {
            func path(_ key: String) -> String? {
                guard let node = tls[key], let text = reader.string(node, at: "hl7.tls." + key) else { return nil }
                return FilePaths.resolve(text, against: baseDirectory)
            }
            let certificate = path("certificate"), key = path("key")
            if certificate == nil { reader.problem("hl7.tls.certificate", node, "missing; the PEM certificate (chain) the listener presents") }
            if key == nil { reader.problem("hl7.tls.key", node, "missing; the PEM private key of the certificate") }
            if let certificate, let key {
                section.tls = GatewayConfiguration.TLS(certificatePath: certificate, keyPath: key, clientCAPath: path("clientCA"))
            }
        }
        if !section.listen.isLoopback, section.tls == nil, !section.allowPlaintext {
            reader.problem("hl7.listen", listenNode,
                "\(section.listen) is reachable beyond this machine, and without TLS patient data would cross the network in clear; "
                + "set hl7.tls (certificate, key), or hl7.allowPlaintext: true to accept that (as most MLLP links on a clinical LAN do)")
        }
        return section
    }
}
