import Foundation
@testable import Gateway
import MQTT
import TestSupport
import Upstream
import XCTest

/// The `mqtt:` section: decoded with defaults, every problem reported by key path, secrets read
/// from files that other users may not read.
final class MQTTConfigurationTests: XCTestCase {
    static let base = "dataDir: data\nprofiles: {directory: profiles}\n"

    func decode(_ yaml: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(yaml: Self.base + yaml, file: "config.yaml", baseDirectory: "/etc/fhir-edge", overrides: overrides)
    }

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try decode(yaml)
            return []
        } catch let error as ConfigurationError {
            return error.problems.map { "\($0.keyPath): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    func testFullSectionDecodes() throws {
        let configuration = try decode("""
            mqtt:
              broker: mqtts://broker.clinic.lan:9883
              clientId: fhir-edge-ward-3
              keepAlive: 45s
              tls: {ca: certs/ca.pem, cert: /etc/ssl/gw.pem, key: certs/gw.key}
              usernameFile: mqtt-user
              passwordFile: /run/secrets/mqtt-password
              reconnect: {base: 500ms, cap: 20s}
              subscriptions:
                - {topic: clinic/+/room-sensor, profile: room-sensor}
                - {topic: fhir-edge/+/#, profileFromLevel: 2}
            """)
        let mqtt = try XCTUnwrap(configuration.mqtt)
        XCTAssertEqual(mqtt.broker, MQTTBrokerAddress(host: "broker.clinic.lan", port: 9883, usesTLS: true))
        XCTAssertEqual(mqtt.clientID, "fhir-edge-ward-3")
        XCTAssertEqual(mqtt.keepAliveSeconds, 45)
        XCTAssertEqual(mqtt.tls, MQTTTLSFiles(caFile: "/etc/fhir-edge/certs/ca.pem", certificateFile: "/etc/ssl/gw.pem", keyFile: "/etc/fhir-edge/certs/gw.key"))
        XCTAssertEqual(mqtt.usernameFile, "/etc/fhir-edge/mqtt-user")
        XCTAssertEqual(mqtt.passwordFile, "/run/secrets/mqtt-password")
        XCTAssertEqual(mqtt.reconnectBase, .milliseconds(500))
        XCTAssertEqual(mqtt.reconnectCap, .seconds(20))
        XCTAssertEqual(mqtt.subscriptions.map(\.filter.text), ["clinic/+/room-sensor", "fhir-edge/+/#"])
        XCTAssertEqual(mqtt.profile(forTopic: "clinic/room-4/room-sensor"), "room-sensor")
        XCTAssertEqual(mqtt.profile(forTopic: "fhir-edge/demo-vitals/monitor-1"), "demo-vitals")
        XCTAssertNil(mqtt.profile(forTopic: "clinic/room-4/other"))
        XCTAssertNil(mqtt.profile(forTopic: "fhir-edge//monitor-1"), "an empty level names no profile")
    }

    func testDefaultsAndTheFirstMatchingSubscriptionDecides() throws {
        let mqtt = try XCTUnwrap(try decode("""
            mqtt:
              broker: mqtt://127.0.0.1
              clientId: gw
              subscriptions:
                - {topic: clinic/room-1/#, profile: special}
                - {topic: clinic/#, profile: general}
            """).mqtt)
        XCTAssertEqual(mqtt.broker.port, 1883)
        XCTAssertEqual(mqtt.keepAliveSeconds, 30)
        XCTAssertNil(mqtt.tls)
        XCTAssertEqual(mqtt.reconnectBase, .seconds(1))
        XCTAssertEqual(mqtt.reconnectCap, .seconds(60))
        XCTAssertEqual(mqtt.profile(forTopic: "clinic/room-1/spo2"), "special")
        XCTAssertEqual(mqtt.profile(forTopic: "clinic/room-2/spo2"), "general")
        XCTAssertNil(try decode("").mqtt, "no section, no MQTT")
    }

    func testEveryProblemIsReportedWithItsKeyPath() {
        let found = problems("""
            mqtt:
              broker: http://broker:1883
              keepAlive: 2s
              passwordFile: pw
              colour: blue
              reconnect: {base: 10s, cap: 1s}
              subscriptions:
                - {topic: "clinic/#/x", profile: a}
                - {topic: "clinic/+/x", profileFromLevel: 3}
                - {topic: "clinic/+"}
                - {topic: "a/+", profile: a, profileFromLevel: 2}
            """)
        let paths = Set(found.map { String($0.prefix { $0 != ":" }) })
        XCTAssertEqual(paths, [
            "mqtt.broker", "mqtt.clientId", "mqtt.keepAlive", "mqtt.usernameFile", "mqtt.colour", "mqtt.reconnect.cap",
            "mqtt.subscriptions.0.topic", "mqtt.subscriptions.1.profileFromLevel", "mqtt.subscriptions.2.profile", "mqtt.subscriptions.3",
        ], found.joined(separator: "\n"))
        XCTAssertTrue(found.contains { $0.hasPrefix("mqtt.subscriptions.0.topic") && $0.contains("'#' must be the last level") }, "\(found)")
    }

    func testTLSMustMatchTheScheme() {
        XCTAssertEqual(problems("mqtt: {broker: 'mqtts://b', clientId: gw, subscriptions: [{topic: a, profile: p}]}"),
                       ["mqtt.tls: mqtts://b:8883 uses TLS; set tls.ca to the CA certificate that signed the broker's certificate"])
        XCTAssertEqual(problems("mqtt: {broker: 'mqtt://b', clientId: gw, tls: {ca: ca.pem}, subscriptions: [{topic: a, profile: p}]}"),
                       ["mqtt.tls: the broker URL is mqtt:// (no TLS); use mqtts:// to connect with these files"])
        XCTAssertEqual(problems("mqtt: {broker: 'mqtts://b', clientId: gw, tls: {ca: ca.pem, cert: c.pem}, subscriptions: [{topic: a, profile: p}]}"),
                       ["mqtt.tls.key: a client certificate needs both cert and key"])
        XCTAssertEqual(problems("mqtt: {broker: 'mqtt://b', clientId: gw, subscriptions: []}"),
                       ["mqtt.subscriptions: empty; subscribe to at least one topic filter"])
    }

    func testBrokerURLs() {
        XCTAssertEqual(MQTTBrokerAddress(url: "mqtt://[::1]:1884"), MQTTBrokerAddress(host: "::1", port: 1884, usesTLS: false))
        XCTAssertEqual(MQTTBrokerAddress(url: "mqtts://broker/"), MQTTBrokerAddress(host: "broker", port: 8883, usesTLS: true))
        XCTAssertEqual(MQTTBrokerAddress(url: "mqtt://[::1]:1884")?.description, "mqtt://[::1]:1884")
        for bad in ["broker:1883", "mqtt://", "mqtt://b:0", "mqtt://b:70000", "mqtt://b/topic", "mqtt://user:pw@b", "mqtt://[::1"] {
            XCTAssertNil(MQTTBrokerAddress(url: bad), bad)
            XCTAssertNotNil(MQTTBrokerAddress.problem(bad), bad)
        }
    }

    func testDemoOverrideSubscribesToEveryProfile() throws {
        let mqtt = try XCTUnwrap(try decode("", overrides: ConfigurationOverrides(mqtt: "mqtt://127.0.0.1:18830")).mqtt)
        XCTAssertEqual(mqtt.broker.port, 18830)
        XCTAssertEqual(mqtt.subscriptions.map(\.filter.text), ["fhir-edge/+/#"])
        XCTAssertEqual(mqtt.profile(forTopic: "fhir-edge/demo-vitals/monitor-1"), "demo-vitals")
        XCTAssertThrowsError(try decode("", overrides: ConfigurationOverrides(mqtt: "tcp://127.0.0.1:1")))
    }

    func testSecretsComeFromFilesOthersCannotRead() throws {
        let folder = try temporaryDirectory("mqtt-secrets")
        defer { try? FileManager.default.removeItem(at: folder) }
        let user = folder.appendingPathComponent("user"), password = folder.appendingPathComponent("password")
        try writeSecretFile("gateway\n", to: user)
        try writeSecretFile("s3cret\n", to: password)
        var section = MQTTSection(
            broker: MQTTBrokerAddress(host: "127.0.0.1", port: 1883, usesTLS: false), clientID: "gw",
            subscriptions: [MQTTSection.Subscription(filter: MQTTTopicFilter("a/#")!, profile: .named("p"))])
        section.usernameFile = user.path
        section.passwordFile = password.path
        let settings = try MQTTIntake.settings(section, file: "config.yaml")
        XCTAssertEqual(settings.credentials, MQTTCredentials(username: "gateway", password: "s3cret"))
        XCTAssertFalse("\(settings.credentials!)".contains("s3cret"), "credentials never print")

        XCTAssertEqual(chmod(password.path, 0o644), 0)
        XCTAssertThrowsError(try MQTTIntake.settings(section, file: "config.yaml")) { error in
            let problems = (error as? ConfigurationError)?.problems ?? []
            XCTAssertEqual(problems.map(\.keyPath), ["mqtt.passwordFile"])
            XCTAssertTrue(problems.first?.message.contains("readable or writable by every user") == true, "\(problems)")
            XCTAssertFalse(problems.first?.message.contains("s3cret") == true)
        }
        section.passwordFile = folder.appendingPathComponent("missing").path
        XCTAssertThrowsError(try MQTTIntake.settings(section, file: "config.yaml"))
    }
}
