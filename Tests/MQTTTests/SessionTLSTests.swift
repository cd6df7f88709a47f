import EdgeCore
import Foundation
@testable import MQTT
import TestSupport
import XCTest

/// mqtts:// against Mosquitto with a test CA (made with the openssl tool): the broker's
/// certificate is verified against tls.ca, and a broker that requires a client certificate
/// takes the gateway's.
final class SessionTLSTests: XCTestCase {
    private actor Events {
        private(set) var all: [MQTTSessionEvent] = []
        func record(_ event: MQTTSessionEvent) { all.append(event) }
    }

    private func openssl(_ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("the openssl tool is not installed") }
        let result = try CommandRunner.run(arguments, executable: URL(fileURLWithPath: "/usr/bin/openssl"), timeout: 60)
        XCTAssertEqual(result.status, 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
    }

    /// A CA, a broker certificate for `localhost` and a client certificate, all signed by the CA.
    private func makeCertificates(in directory: URL) throws {
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                     "-subj", "/CN=fhir-edge test CA", "-keyout", path("ca.key"), "-out", path("ca.pem")])
        for (name, subject, extensions) in [("broker", "/CN=localhost", "subjectAltName=DNS:localhost"), ("client", "/CN=gateway", "extendedKeyUsage=clientAuth")] {
            try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                         "-keyout", path(name + ".key"), "-out", path(name + ".csr")])
            try "\(extensions)\n".write(toFile: path(name + ".ext"), atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                         "-days", "2", "-extfile", path(name + ".ext"), "-out", path(name + ".pem")])
        }
    }

    private func run(_ settings: MQTTSessionSettings, until done: @escaping @Sendable ([MQTTSessionEvent]) -> Bool) async -> [MQTTSessionEvent] {
        let events = Events()
        let session = MQTTSession(settings: settings, seed: 5) { _ in .acknowledge }
        let running = Task { await session.run { await events.record($0) } }
        var rounds = 0
        while rounds < 400, !done(await events.all) {
            rounds += 1
            try? await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await running.value
        return await events.all
    }

    func testMutualTLSConnectsAndAWrongCAOrNoClientCertificateDoesNot() async throws {
        let directory = try temporaryDirectory("mqtt-tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        try makeCertificates(in: directory)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let broker = try MosquittoBroker(directory: directory, listenerOptions: """
            cafile \(path("ca.pem"))
            certfile \(path("broker.pem"))
            keyfile \(path("broker.key"))
            require_certificate true
            """)
        func settings(_ tls: MQTTTLSFiles) -> MQTTSessionSettings {
            MQTTSessionSettings(
                broker: MQTTBrokerAddress(host: "localhost", port: broker.port, usesTLS: true), clientID: "tls-test", keepAlive: 10, tls: tls,
                filters: [MQTTTopicFilter("fhir-edge/#")!], backoff: ReconnectBackoff(base: .milliseconds(20), cap: .milliseconds(100)))
        }
        let subscribed: @Sendable ([MQTTSessionEvent]) -> Bool = { $0.contains { if case .subscribed = $0 { true } else { false } } }
        let failedTwice: @Sendable ([MQTTSessionEvent]) -> Bool = { events in
            events.filter { if case .connectFailed = $0 { true } else if case .disconnected = $0 { true } else { false } }.count >= 2
        }

        let good = await run(settings(MQTTTLSFiles(caFile: path("ca.pem"), certificateFile: path("client.pem"), keyFile: path("client.key"))), until: subscribed)
        XCTAssertTrue(subscribed(good), "mutual TLS should connect: \(good)\n\(broker.log.suffix(1500))")

        // The broker's certificate signed by another CA: refused by the gateway.
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("other"), withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=other CA",
                     "-keyout", path("other/ca.key"), "-out", path("other/ca.pem")])
        let wrongCA = await run(settings(MQTTTLSFiles(caFile: path("other/ca.pem"), certificateFile: path("client.pem"), keyFile: path("client.key"))), until: failedTwice)
        XCTAssertFalse(subscribed(wrongCA), "a broker certificate from another CA must not be trusted")
        XCTAssertTrue(failedTwice(wrongCA), "\(wrongCA)")

        // No client certificate: refused by the broker.
        let anonymous = await run(settings(MQTTTLSFiles(caFile: path("ca.pem"))), until: failedTwice)
        XCTAssertFalse(subscribed(anonymous), "the broker requires a client certificate")
    }
}
