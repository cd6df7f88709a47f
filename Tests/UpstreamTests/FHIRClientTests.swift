import XCTest
@testable import Upstream

final class FHIRClientTests: XCTestCase {
    func testRelativePathsResolveAgainstTheBaseWithoutDoubleSlashes() {
        let client = FHIRClient(baseURL: "http://127.0.0.1:8080/fhir/", transport: ScriptedTransport([]))
        XCTAssertEqual(client.url("metadata"), "http://127.0.0.1:8080/fhir/metadata")
        XCTAssertEqual(client.url("/Observation/a"), "http://127.0.0.1:8080/fhir/Observation/a")
        XCTAssertEqual(client.url(""), "http://127.0.0.1:8080/fhir")
        XCTAssertEqual(client.url("https://other/x"), "https://other/x")
    }

    func testA401InvalidatesCredentialsAndRetriesOnce() async throws {
        let transport = ScriptedTransport([.response(UpstreamResponse(status: 401)), .response(UpstreamResponse(status: 200))])
        let auth = CountingAuthenticator()
        let client = FHIRClient(baseURL: "http://127.0.0.1:1", transport: transport, authenticator: auth)
        let response = try await client.send(client.request("GET", "metadata"))
        XCTAssertEqual(response.status, 200)
        let counts = await auth.counts
        XCTAssertEqual(counts.authorized, 2)
        XCTAssertEqual(counts.invalidated, 1)
        let sent = await transport.sent
        XCTAssertEqual(sent.map { $0.headers["Authorization"] }, ["Bearer 1", "Bearer 2"])
    }

    func testASecond401IsReturnedNotRetriedForever() async throws {
        let transport = ScriptedTransport([.response(UpstreamResponse(status: 401)), .response(UpstreamResponse(status: 401))])
        let client = FHIRClient(baseURL: "http://127.0.0.1:1", transport: transport, authenticator: CountingAuthenticator())
        let response = try await client.send(client.request("GET", "metadata"))
        XCTAssertEqual(response.status, 401)
        let sent = await transport.sent
        XCTAssertEqual(sent.count, 2)
    }
}

actor CountingAuthenticator: UpstreamAuthenticator {
    var counts = (authorized: 0, invalidated: 0)

    func authorize(_ request: inout UpstreamRequest) async throws {
        counts.authorized += 1
        request.headers.set("Authorization", "Bearer \(counts.authorized)")
    }

    func invalidate() async {
        counts.invalidated += 1
    }
}
