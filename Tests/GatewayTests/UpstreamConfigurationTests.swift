import Upstream
import XCTest
@testable import Gateway

final class UpstreamConfigurationTests: XCTestCase {
    static let base = """
        dataDir: data
        profiles:
          directory: /opt/profiles

        """

    func decode(_ yaml: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) throws -> GatewayConfiguration {
        try GatewayConfiguration.decode(yaml: Self.base + yaml, file: "config.yaml", baseDirectory: "/etc/fhir-edge", overrides: overrides)
    }

    func problems(_ yaml: String, overrides: ConfigurationOverrides = ConfigurationOverrides()) -> [String] {
        do {
            _ = try decode(yaml, overrides: overrides)
            XCTFail("expected problems")
            return []
        } catch let error as ConfigurationError {
            return error.problems.map { "\($0.keyPath): \($0.message)" }
        } catch {
            XCTFail("unexpected \(error)")
            return []
        }
    }

    func testWithoutAnUpstreamSectionTheGatewayOnlyBuffers() throws {
        XCTAssertNil(try decode("").upstream)
    }

    func testTheUpstreamSectionDecodesEveryKey() throws {
        let configuration = try decode("""
            upstream:
              url: https://fhir.example.org/r4/
              bundle: transaction
              idempotency: conditional-create
              batchSize: 50
              linger: 500ms
              timeout: 20s
              connectTimeout: 3s
              retryBase: 2s
              retryCap: 10m
              mergeSampledData: false
              auth:
                mode: bearer
                token: {secretEnv: FHIR_TOKEN}
            """)
        let upstream = try XCTUnwrap(configuration.upstream)
        XCTAssertEqual(upstream.url, "https://fhir.example.org/r4")
        XCTAssertEqual(upstream.upload.bundleType, .transaction)
        XCTAssertEqual(upstream.upload.idempotency, .conditionalCreate)
        XCTAssertEqual(upstream.upload.batchSize, 50)
        XCTAssertEqual(upstream.upload.linger, .milliseconds(500))
        XCTAssertEqual(upstream.upload.retry.base, .seconds(2))
        XCTAssertEqual(upstream.upload.retry.cap, .seconds(600))
        XCTAssertFalse(upstream.upload.mergeSampledData)
        XCTAssertEqual(upstream.transport.totalTimeout, .seconds(20))
        XCTAssertEqual(upstream.transport.connectTimeout, .seconds(3))
        XCTAssertGreaterThan(upstream.upload.leaseDuration, upstream.transport.totalTimeout)
        XCTAssertEqual(upstream.auth.mode.name, "bearer")
    }

    func testDefaultsArePutInBatchesOfAHundred() throws {
        let upstream = try XCTUnwrap(try decode("upstream:\n  url: http://127.0.0.1:8080/fhir\n").upstream)
        XCTAssertEqual(upstream.upload.idempotency, .put)
        XCTAssertEqual(upstream.upload.bundleType, .batch)
        XCTAssertEqual(upstream.upload.batchSize, 100)
        XCTAssertEqual(upstream.auth.mode.name, "none")
    }

    func testPlainHTTPAndMissingAuthenticationAreForLoopbackOnly() {
        let plain = problems("upstream:\n  url: http://fhir.example.org/r4\n")
        XCTAssertTrue(plain.contains { $0.hasPrefix("upstream.url: plain http") }, "\(plain)")
        let anonymous = problems("upstream:\n  url: https://fhir.example.org/r4\n")
        XCTAssertTrue(anonymous.contains { $0.hasPrefix("upstream.auth:") }, "\(anonymous)")
    }

    func testUnknownKeysAndBadValuesAreReportedTogether() {
        let found = problems("""
            upstream:
              url: ftp://x
              bundle: stream
              idempotency: maybe
              batchSize: 0
              colour: blue
            """)
        for key in ["upstream.url", "upstream.bundle", "upstream.idempotency", "upstream.batchSize", "upstream.colour"] {
            XCTAssertTrue(found.contains { $0.hasPrefix(key + ":") }, "\(key) missing from \(found)")
        }
        XCTAssertTrue(problems("upstream:\n  batchSize: 10\n").contains { $0.hasPrefix("upstream.url:") })
    }

    func testTheUpstreamOverrideSetsOrReplacesTheURL() throws {
        let fromFlag = try decode("", overrides: ConfigurationOverrides(upstream: "http://127.0.0.1:9/fhir"))
        XCTAssertEqual(fromFlag.upstream?.url, "http://127.0.0.1:9/fhir")
        let replaced = try decode("upstream:\n  url: http://127.0.0.1:1/a\n  batchSize: 7\n",
                                  overrides: ConfigurationOverrides(upstream: "http://localhost:2/b"))
        XCTAssertEqual(replaced.upstream?.url, "http://localhost:2/b")
        XCTAssertEqual(replaced.upstream?.upload.batchSize, 7)
        XCTAssertFalse(problems("", overrides: ConfigurationOverrides(upstream: "https://fhir.example.org")).isEmpty,
                       "the flag gets no authentication, so it is for loopback servers only")
    }
}
