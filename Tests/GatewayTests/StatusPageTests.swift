import EdgeCore
import Foundation
import JSONQuery
import Simulator
import Store
import XCTest
@testable import Gateway

/// The status page's sessions, CSRF tokens and roles, on the real local API.
final class StatusPageTests: XCTestCase {
    typealias Harness = GatewayHTTPTests.Harness

    /// Patient identifiers that must never reach the page.
    static let sentinelPatient = "SENTINEL-PATIENT-7f3a"
    static let sentinelValue = "SENTINEL-VALUE-91c2"

    struct Signed {
        var cookie: String
        var csrf: String
        var page: String
    }

    /// Signs in with `token` and loads the page with the session cookie.
    func signIn(_ harness: Harness, token: String, file: StaticString = #filePath, line: UInt = #line) async throws -> Signed {
        let reply = try await harness.client.send(
            "POST", "/signin", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array("token=\(token)".utf8))
        XCTAssertEqual(reply.status, 303, reply.text, file: file, line: line)
        let setCookie = reply.headers["set-cookie"] ?? ""
        let cookie = String(setCookie.split(separator: ";").first ?? "")
        let page = try await harness.client.send("GET", "/", headers: [("Cookie", cookie)])
        XCTAssertEqual(page.status, 200, file: file, line: line)
        return Signed(cookie: cookie, csrf: Self.csrf(in: page.text) ?? "", page: page.text)
    }

    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    func post(_ harness: Harness, _ path: String, cookie: String?, form: String, headers: [(String, String)] = []) async throws -> LoopbackHTTPClient.Reply {
        var all = [("Content-Type", "application/x-www-form-urlencoded")] + headers
        if let cookie { all.append(("Cookie", cookie)) }
        return try await harness.client.send("POST", path, headers: all, body: Array(form.utf8))
    }

    /// Two dead letters (a heart rate that is not a number) and one good reading.
    func seed(_ harness: Harness) async throws {
        let reply = try await harness.post(
            #"[{"deviceId":"m1","patientId":"\#(Self.sentinelPatient)","measuredAt":"2026-11-27T08:00:00Z","heartRate":"\#(Self.sentinelValue)"},"# +
                #"{"deviceId":"m2","patientId":"\#(Self.sentinelPatient)","measuredAt":"2026-11-27T08:00:01Z","heartRate":"slow"},"# +
                #"{"deviceId":"monitor-1","patientId":"\#(Self.sentinelPatient)","measuredAt":"2025-11-24T10:00:00Z","heartRate":72,"spo2":97,"battery":64}]"#)
        XCTAssertEqual(reply.status, 202, reply.text)
        try await harness.waitForMapping()
    }

    func testWithoutASessionThePageIsTheSignInFormAndWrongTokensAreRefused() async throws {
        let harness = try await Harness()
        let page = try await harness.get("/", token: nil)
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("<label for=\"token\">Client token</label>"), page.text)
        XCTAssertFalse(page.text.contains("Dead letters"), "nothing of the state without a session")
        XCTAssertEqual(page.headers["x-frame-options"], "DENY")
        XCTAssertTrue(page.headers["content-security-policy"]?.contains("default-src 'none'") ?? false)
        XCTAssertEqual(page.headers["cache-control"], "no-store")

        let wrong = try await post(harness, "/signin", cookie: nil, form: "token=not-a-token")
        XCTAssertEqual(wrong.status, 401)
        XCTAssertNil(wrong.headers["set-cookie"])
        // A client without a role (ingest only) gets no session either.
        let ingestOnly = try await post(harness, "/signin", cookie: nil, form: "token=ward-token")
        XCTAssertEqual(ingestOnly.status, 403, ingestOnly.text)
        XCTAssertNil(ingestOnly.headers["set-cookie"])
        // A bearer token does not open the page: it is for the JSON API.
        let bearer = try await harness.get("/", token: "admin-token")
        XCTAssertTrue(bearer.text.contains("Client token"), "the page takes sessions only")
        await harness.stop()

        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        defer { try? reader.close() }
        let calls = try await reader.journal(after: 0).filter { $0.entry.kind == AccessJournal.kind && $0.entry.details["route"] == "/signin" }
        XCTAssertEqual(calls.map { $0.entry.details["status"] ?? .null }, [401, 403], "sign-in attempts are journaled")
        XCTAssertEqual(calls.map(\.entry.actor), ["http:anonymous", "http:ward"])
    }

    func testASessionCookieIsHttpOnlyStrictAndExpiresAndSignOutEndsIt() async throws {
        let harness = try await Harness()
        let reply = try await post(harness, "/signin", cookie: nil, form: "token=nurse-token")
        XCTAssertEqual(reply.status, 303)
        XCTAssertEqual(reply.headers["location"], "/")
        let cookie = reply.headers["set-cookie"] ?? ""
        XCTAssertTrue(cookie.hasPrefix("fhir-edge-session="), cookie)
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
            XCTAssertTrue(cookie.contains(attribute), "\(attribute) in \(cookie)")
        }
        XCTAssertFalse(cookie.contains("Secure"), "no Secure flag on plain HTTP, or the browser drops the cookie")

        let signed = try await signIn(harness, token: "nurse-token")
        XCTAssertTrue(signed.page.contains("Signed in as nurse (viewer)"), signed.page)
        // Sign-out needs the session's CSRF token.
        let forged = try await post(harness, "/signout", cookie: signed.cookie, form: "csrf=forged")
        XCTAssertEqual(forged.status, 403)
        let still = try await harness.client.send("GET", "/", headers: [("Cookie", signed.cookie)])
        XCTAssertTrue(still.text.contains("Signed in as nurse"), "a refused sign-out leaves the session")
        let out = try await post(harness, "/signout", cookie: signed.cookie, form: "csrf=\(signed.csrf)")
        XCTAssertEqual(out.status, 303)
        XCTAssertTrue(out.headers["set-cookie"]?.contains("Max-Age=0") ?? false, "the cookie is cleared")
        let after = try await harness.client.send("GET", "/", headers: [("Cookie", signed.cookie)])
        XCTAssertTrue(after.text.contains("Client token"), "the ended session no longer opens the page")
        await harness.stop()
    }

    func testRolesDecideWhatIsShownAndWhoMayReplayOrDiscard() async throws {
        let harness = try await Harness()
        try await seed(harness)
        let nurse = try await signIn(harness, token: "nurse-token")
        XCTAssertTrue(nurse.page.contains("id=\"dead-letter-list\""), nurse.page)
        XCTAssertFalse(nurse.page.contains("/replay\""), "a viewer sees no actions")
        XCTAssertFalse(nurse.page.contains("id=\"journal\""), "nor the journal")
        XCTAssertTrue(nurse.page.contains("<th scope=\"row\">monitor-1</th>"), "devices are listed")
        XCTAssertTrue(nurse.page.contains("64 %"), "with the battery level the message reported")
        // A viewer's forged action is refused even with its own CSRF token.
        let forbidden = try await post(harness, "/page/deadletters/1/discard", cookie: nurse.cookie, form: "csrf=\(nurse.csrf)")
        XCTAssertEqual(forbidden.status, 403)

        let auditor = try await signIn(harness, token: "auditor-token")
        XCTAssertTrue(auditor.page.contains("id=\"journal\""), "an auditor sees the journal")
        XCTAssertFalse(auditor.page.contains("id=\"device-table\""), "and, without viewer, not the devices")

        let technician = try await signIn(harness, token: "technician-token")
        XCTAssertTrue(technician.page.contains("action=\"/page/deadletters/1/replay\""), technician.page)
        XCTAssertFalse(technician.page.contains("id=\"journal\""))
        // Without the CSRF token, or with another session's, nothing happens.
        for form in ["", "csrf=", "csrf=\(nurse.csrf)"] {
            let refused = try await post(harness, "/page/deadletters/1/replay", cookie: technician.cookie, form: form)
            XCTAssertEqual(refused.status, 403, form)
        }
        // A post from another site is refused before the token is looked at.
        let foreign = try await post(harness, "/page/deadletters/1/replay", cookie: technician.cookie, form: "csrf=\(technician.csrf)",
                                     headers: [("Origin", "http://evil.example")])
        XCTAssertEqual(foreign.status, 403)
        let untouched = try await harness.statistics().deadLetters
        XCTAssertEqual(untouched, 2, "no refused action acted")

        let replay = try await post(harness, "/page/deadletters/1/replay", cookie: technician.cookie, form: "csrf=\(technician.csrf)",
                                    headers: [("Origin", "http://\(harness.client.host):\(harness.client.port)")])
        XCTAssertEqual(replay.status, 303, replay.text)
        XCTAssertEqual(replay.headers["location"], "/?done=replayed")
        let discard = try await post(harness, "/page/deadletters/2/discard", cookie: technician.cookie, form: "csrf=\(technician.csrf)")
        XCTAssertEqual(discard.status, 303, discard.text)
        try await harness.waitForMapping()
        let done = try await harness.client.send("GET", "/?done=discarded", headers: [("Cookie", technician.cookie)])
        XCTAssertTrue(done.text.contains("The dead letter was discarded."))
        let admin = try await signIn(harness, token: "admin-token")
        XCTAssertTrue(admin.page.contains("id=\"journal\"") && admin.page.contains("/replay\""), "an admin sees everything")
        await harness.stop()

        let reader = try StoreReader.openReadOnly(path: harness.storePath, encryption: harness.encryption())
        defer { try? reader.close() }
        let journal = try await reader.journal(after: 0, limit: 10_000)
        let settled = journal.filter { ["deadletter.replayed", "deadletter.discarded"].contains($0.entry.kind.rawValue) }
        XCTAssertEqual(settled.map(\.entry.actor), ["http:technician", "http:technician"], "actions are journaled under the session's client")
        let pageCalls = journal.filter { $0.entry.kind == AccessJournal.kind && ($0.entry.details["route"]?.stringValue ?? "").hasPrefix("/page/") }
        XCTAssertTrue(pageCalls.contains { $0.entry.details["status"] == 303 && $0.entry.actor == "http:technician" }, "\(pageCalls)")
    }

    func testThePageShowsNoPatientDataAndEscapesWhatItShows() async throws {
        let harness = try await Harness()
        try await seed(harness)
        let evil = #"{"deviceId":"<script>x</script>","patientId":"\#(Self.sentinelPatient)","measuredAt":"2026-11-27T08:00:00Z","heartRate":1}"#
        _ = try await harness.post(evil)
        try await harness.waitForMapping()
        let admin = try await signIn(harness, token: "admin-token")
        XCTAssertFalse(admin.page.contains(Self.sentinelPatient), "no patient id on the page")
        XCTAssertFalse(admin.page.contains(Self.sentinelValue), "no payload value on the page")
        XCTAssertFalse(admin.page.contains("<script"), "device ids are escaped")
        XCTAssertTrue(admin.page.contains("&lt;script&gt;"), admin.page)
        XCTAssertFalse(admin.page.contains("http://") || admin.page.contains("https://"), "no external asset")
        await harness.stop()
    }

    func testDemoModeOnLoopbackNeedsNoSignInButActionsStillNeedTheToken() async throws {
        let harness = try await Harness(demo: true)
        try await seed(harness)
        let page = try await harness.get("/", token: nil)
        XCTAssertTrue(page.text.contains("Demo mode on loopback"), page.text)
        XCTAssertTrue(page.text.contains("/replay\""), "demo gives the operator's actions, like demo ingest")
        XCTAssertFalse(page.text.contains("id=\"journal\""), "the journal stays behind a token")
        let csrf = try XCTUnwrap(Self.csrf(in: page.text))
        let forged = try await post(harness, "/page/deadletters/1/discard", cookie: nil, form: "csrf=guess")
        XCTAssertEqual(forged.status, 403, "a page on another site cannot act on a demo box")
        let discard = try await post(harness, "/page/deadletters/1/discard", cookie: nil, form: "csrf=\(csrf)")
        XCTAssertEqual(discard.status, 303)
        let left = try await harness.statistics().deadLetters
        XCTAssertEqual(left, 1)
        await harness.stop()
    }

    // MARK: Sessions alone

    final class Counter: Sendable {
        let value = Locked<UInt8>(0)
        func next() -> [UInt8] { value.withLock { $0 &+= 1; return [UInt8](repeating: $0, count: 32) } }
    }

    final class Clock: Sendable {
        let value = Locked<Int64>(1_000_000)
        func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: value.withLock { $0 }) }
        func advance(_ milliseconds: Int64) { value.withLock { $0 += milliseconds } }
    }

    func testSessionIdsComeFromTheInjectedRandomnessAndExpire() {
        let counter = Counter()
        let clock = Clock()
        let sessions = PageSessions(lifetimeMilliseconds: 60_000, random: { counter.next() }, now: { clock.now() })
        let started = sessions.start(client: "nurse", roles: [.viewer])
        XCTAssertEqual(started.id, PageSessions.token([UInt8](repeating: 1, count: 32)))
        XCTAssertEqual(started.session.csrfToken, PageSessions.token([UInt8](repeating: 2, count: 32)))
        XCTAssertEqual(started.id.count, 43, "256 bits, base64url")
        XCTAssertEqual(sessions.session(started.id)?.client, "nurse")
        XCTAssertNil(sessions.session(started.session.csrfToken), "the CSRF token is not a session id")
        clock.advance(59_999)
        XCTAssertNotNil(sessions.session(started.id))
        clock.advance(1)
        XCTAssertNil(sessions.session(started.id), "expired")
        XCTAssertEqual(sessions.count, 0, "and dropped")
    }

    func testTheSessionTableIsBoundedOldestFirst() {
        let counter = Counter()
        let clock = Clock()
        let sessions = PageSessions(capacity: 3, random: { counter.next() }, now: { clock.now() })
        var ids: [String] = []
        for index in 0..<5 {
            ids.append(sessions.start(client: "c\(index)", roles: [.viewer]).id)
            clock.advance(1)
        }
        XCTAssertEqual(sessions.count, 3)
        XCTAssertNil(sessions.session(ids[0]))
        XCTAssertNil(sessions.session(ids[1]))
        XCTAssertEqual(sessions.session(ids[4])?.client, "c4")
        XCTAssertTrue(PageSessions.csrfMatches("abc", "abc"))
        XCTAssertFalse(PageSessions.csrfMatches("abd", "abc"))
        XCTAssertFalse(PageSessions.csrfMatches(nil, "abc"))
    }

    func testTheTokenEncodingIsBase64URLWithoutPadding() {
        XCTAssertEqual(PageSessions.token(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(PageSessions.token(Array("fooba".utf8)), "Zm9vYmE")
        XCTAssertEqual(PageSessions.token([0xFB, 0xFF]), "-_8")
    }
}
