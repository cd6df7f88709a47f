import EdgeCore

/// Server-rendered HTML of the status page: no script, no external asset (the box is often
/// offline), one stylesheet from the gateway itself. Semantic elements (header, main, sections
/// with headings, tables with captions and header cells, labelled form fields) so that screen
/// readers and the keyboard work; every value is escaped.
enum StatusPageHTML {
    static func page(_ model: StatusPageModel) -> String {
        var html = Document(title: "fhir-edge status")
        html.raw("<header><h1>fhir-edge</h1>")
        html.raw("<p class=\"who\">")
        if model.viewer.signedIn {
            html.text("Signed in as \(model.viewer.client) (\(roleNames(model.viewer.roles))). ")
            html.raw("</p><form method=\"post\" action=\"/signout\" class=\"inline\">")
            html.csrf(model.viewer.csrfToken)
            html.raw("<button type=\"submit\">Sign out</button></form>")
        } else {
            html.text("Demo mode on loopback: no sign-in needed.")
            html.raw("</p>")
        }
        html.raw("</header><main>")
        if let notice = model.notice {
            html.raw("<p class=\"notice\" role=\"status\">")
            html.text(notice)
            html.raw("</p>")
        }
        if model.viewer.may(.view) {
            overview(model, &html)
            upstream(model, &html)
            devices(model, &html)
            deadLetters(model, &html)
            disk(model, &html)
        } else {
            html.raw("<p>The auditor role shows the journal; the gateway's state needs viewer, operator or admin.</p>")
        }
        if let journal = model.journal { self.journal(journal, model, &html) }
        html.raw("<p><a href=\"/\">Refresh</a></p></main>")
        return html.finish()
    }

    /// The sign-in form; `error` is one of the page's own sentences, never input.
    static func signIn(error: String?) -> String {
        var html = Document(title: "Sign in: fhir-edge")
        html.raw("<header><h1>fhir-edge</h1></header><main><section aria-labelledby=\"signin\"><h2 id=\"signin\">Sign in</h2>")
        if let error {
            html.raw("<p class=\"error\" role=\"alert\">")
            html.text(error)
            html.raw("</p>")
        }
        html.raw("""
            <form method="post" action="/signin">
            <label for="token">Client token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
            <button type="submit">Sign in</button>
            </form>
            <p>Use the token of a client that has a role (<code>clients.&lt;id&gt;.roles</code>): viewer, operator, auditor or admin.</p>
            </section></main>
            """)
        return html.finish()
    }

    // MARK: Sections

    private static func overview(_ model: StatusPageModel, _ html: inout Document) {
        html.raw("<section aria-labelledby=\"overview\"><h2 id=\"overview\">Gateway</h2><dl>")
        html.item("Health", model.health + (model.healthReason.map { " (\($0))" } ?? ""), state: model.health == "ok" ? "good" : "bad")
        html.item("Version", model.version)
        html.item("Up since", "\(model.startedAt.iso8601) (\(duration(model.now.millisecondsSinceEpoch - model.startedAt.millisecondsSinceEpoch)))")
        html.item("Clock", "\(model.now.iso8601), \(model.clock.summary)", state: model.clock.sync == .synchronised ? "good" : "bad")
        html.item("Local API", model.tls ? "TLS" : "plain HTTP")
        html.raw("</dl></section>")
    }

    private static func upstream(_ model: StatusPageModel, _ html: inout Document) {
        html.raw("<section aria-labelledby=\"upstream\"><h2 id=\"upstream\">Upstream and queue</h2><dl>")
        if let upstream = model.upstream {
            html.item("Server", upstream.url)
            let reachable: (String, String) = if !upstream.running {
                ("not started", "bad")
            } else if upstream.consecutiveFailures > 0 {
                ("failing (\(upstream.consecutiveFailures) attempts in a row)", "bad")
            } else if upstream.requests == 0 {
                ("no upload yet", "neutral")
            } else {
                ("reachable", "good")
            }
            html.item("State", reachable.0, state: reachable.1)
            if let until = upstream.backoffUntil, until > model.now {
                html.item("Backoff", "next try at \(until.iso8601) (in \(duration(until.millisecondsSinceEpoch - model.now.millisecondsSinceEpoch)))")
            } else {
                html.item("Backoff", "none")
            }
            html.item("Last success", upstream.lastSuccess.map { "\($0.iso8601) (\(ago($0, model.now)))" } ?? "none yet")
            if let error = upstream.lastError { html.item("Last error", error, state: "bad") }
        } else {
            html.item("Server", "none configured (upstream:); readings stay on the box")
        }
        if let queue = model.queue {
            html.item("Waiting for mapping", "\(queue.inbox) message(s)")
            html.item("Waiting for upload", "\(queue.outboxPending) resource(s)")
            var oldest = queue.oldestUnsentSeconds.map { duration(Int64($0 * 1000)) } ?? "nothing unsent"
            if let maxAge = queue.maxAgeSeconds { oldest += " (store.maxAge \(duration(Int64(maxAge * 1000))))" }
            let late = (queue.oldestUnsentSeconds ?? 0) > (queue.maxAgeSeconds ?? .infinity)
            html.item("Oldest unsent", oldest, state: late ? "bad" : nil)
            html.item("Stored", "\(bytes(queue.bytes)) of \(bytes(queue.highWaterBytes)) before intake is refused (store.maxBytes \(bytes(queue.maxBytes)))",
                      state: queue.atHighWaterMark ? "bad" : nil)
            html.meter(label: "Store use", value: queue.bytes, maximum: queue.highWaterBytes)
            if queue.atHighWaterMark { html.item("Intake", "refused: the store is at its high-water mark", state: "bad") }
        } else {
            html.item("Queue", "the store could not be read", state: "bad")
        }
        html.raw("</dl></section>")
    }

    private static func devices(_ model: StatusPageModel, _ html: inout Document) {
        html.raw("<section aria-labelledby=\"devices\"><h2 id=\"devices\">Devices</h2>")
        guard !model.devices.isEmpty else {
            html.raw("<p>No device has sent a reading since the gateway started.</p></section>")
            return
        }
        html.raw("<div class=\"scroll\"><table id=\"device-table\"><caption>\(model.devices.count) device(s) since start; readings today count from 00:00 UTC</caption>")
        html.raw("<thead><tr><th scope=\"col\">Device</th><th scope=\"col\">Transport</th><th scope=\"col\">Profile</th><th scope=\"col\">Last seen</th><th scope=\"col\">Readings today</th><th scope=\"col\">State</th><th scope=\"col\">Last error</th><th scope=\"col\">Battery</th></tr></thead><tbody>")
        for device in model.devices {
            html.raw("<tr><th scope=\"row\">")
            html.text(device.id)
            html.raw("</th>")
            html.cell(device.transport)
            html.cell(device.profile)
            html.cell(device.lastSeen.map { "\($0.iso8601) (\(ago($0, model.now)))" } ?? "never")
            html.cell(String(device.readingsToday))
            html.cell(device.state ?? "-")
            html.cell(device.lastError.map { error in error + (device.lastErrorAt.map { " (\(ago($0, model.now)))" } ?? "") } ?? "none")
            html.cell(device.battery.map { "\(Int($0.rounded())) %" } ?? "unknown")
            html.raw("</tr>")
        }
        html.raw("</tbody></table></div></section>")
    }

    private static func deadLetters(_ model: StatusPageModel, _ html: inout Document) {
        let total = model.queue?.deadLetters ?? Int64(model.deadLetters.count)
        html.raw("<section aria-labelledby=\"dead-letters\"><h2 id=\"dead-letters\">Dead letters</h2>")
        guard total > 0 || !model.deadLetters.isEmpty else {
            html.raw("<p>None: every message was mapped and every resource accepted.</p></section>")
            return
        }
        html.raw("<p>\(total) waiting for replay or discard.</p>")
        html.raw("<div class=\"scroll\"><table id=\"dead-letter-reasons\"><caption>By reason")
        if let counted = model.deadLettersCounted { html.text(" (the oldest \(counted))") }
        html.raw("</caption><thead><tr><th scope=\"col\">Stage</th><th scope=\"col\">Error</th><th scope=\"col\">Count</th></tr></thead><tbody>")
        for reason in model.deadLetterReasons {
            html.raw("<tr>")
            html.cell(reason.stage)
            html.cell(reason.errorType)
            html.cell(String(reason.count))
            html.raw("</tr>")
        }
        html.raw("</tbody></table></div>")
        let operate = model.viewer.may(.operate)
        html.raw("<div class=\"scroll\"><table id=\"dead-letter-list\"><caption>Oldest first; details with <code>fhir-edge deadletter show ID</code></caption>")
        html.raw("<thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Since</th><th scope=\"col\">Stage</th><th scope=\"col\">Error</th><th scope=\"col\">Device</th><th scope=\"col\">Replays</th>")
        if operate { html.raw("<th scope=\"col\">Action</th>") }
        html.raw("</tr></thead><tbody>")
        for letter in model.deadLetters {
            html.raw("<tr id=\"dead-letter-\(letter.id)\"><th scope=\"row\">\(letter.id)</th>")
            html.cell("\(letter.createdAt.iso8601) (\(ago(letter.createdAt, model.now)))")
            html.cell(letter.stage)
            html.cell(letter.errorType)
            html.cell(letter.device ?? letter.profile ?? "-")
            html.cell(String(letter.replayCount))
            if operate {
                html.raw("<td class=\"actions\">")
                for (action, label) in [("replay", "Replay"), ("discard", "Discard")] {
                    html.raw("<form method=\"post\" action=\"/page/deadletters/\(letter.id)/\(action)\" class=\"inline\">")
                    html.csrf(model.viewer.csrfToken)
                    html.raw("<button type=\"submit\" name=\"do\" value=\"\(action)\" aria-label=\"\(label) dead letter \(letter.id)\">\(label)</button></form>")
                }
                html.raw("</td>")
            }
            html.raw("</tr>")
        }
        html.raw("</tbody></table></div>")
        if !operate { html.raw("<p>Replay and discard need the operator role.</p>") }
        html.raw("</section>")
    }

    private static func disk(_ model: StatusPageModel, _ html: inout Document) {
        html.raw("<section aria-labelledby=\"disk\"><h2 id=\"disk\">Disk</h2><dl>")
        if let disk = model.disk {
            html.item("Data directory", disk.path)
            html.item("Store files", bytes(disk.storeFileBytes))
            let used = disk.totalBytes - disk.freeBytes
            html.item("Filesystem", "\(bytes(disk.freeBytes)) free of \(bytes(disk.totalBytes))",
                      state: disk.totalBytes > 0 && disk.freeBytes * 20 < disk.totalBytes ? "bad" : nil)
            html.meter(label: "Filesystem use", value: used, maximum: disk.totalBytes)
        } else {
            html.item("Data directory", "could not be measured", state: "bad")
        }
        html.raw("</dl></section>")
    }

    private static func journal(_ lines: [StatusPageModel.JournalLine], _ model: StatusPageModel, _ html: inout Document) {
        html.raw("<section aria-labelledby=\"journal\"><h2 id=\"journal\">Journal</h2>")
        html.raw("<div class=\"scroll\"><table id=\"journal-table\"><caption>The latest \(lines.count) entries; verify with <code>fhir-edge audit verify</code> or <code>GET /journal/verify</code></caption>")
        html.raw("<thead><tr><th scope=\"col\">Seq</th><th scope=\"col\">Time</th><th scope=\"col\">Kind</th><th scope=\"col\">Actor</th></tr></thead><tbody>")
        for line in lines {
            html.raw("<tr><th scope=\"row\">\(line.sequence)</th>")
            html.cell(line.time.iso8601)
            html.cell(line.kind)
            html.cell(line.actor)
            html.raw("</tr>")
        }
        html.raw("</tbody></table></div></section>")
    }

    // MARK: Formatting

    static func roleNames(_ roles: Set<GatewayConfiguration.Role>) -> String {
        GatewayConfiguration.Role.allCases.filter(roles.contains).map(\.rawValue).joined(separator: ", ")
    }

    static func ago(_ time: Timestamp, _ now: Timestamp) -> String {
        let milliseconds = now.millisecondsSinceEpoch - time.millisecondsSinceEpoch
        return milliseconds < 0 ? "in \(duration(-milliseconds))" : "\(duration(milliseconds)) ago"
    }

    static func duration(_ milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds / 1000)
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min" }
        if seconds < 86_400 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// The stylesheet at `/page.css`: high contrast (at least 4.5:1 for text), visible focus,
    /// one column on a phone.
    static let stylesheet = """
        :root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.45;color:#1a1a1a;background:#fff}
        body{margin:0 auto;max-width:72rem;padding:0 1rem 2rem}
        header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.5rem 1rem;border-bottom:2px solid #1a1a1a;margin-bottom:1rem}
        h1{font-size:1.5rem;margin:.75rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
        .who{margin:0;flex:1}
        dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.25rem 1rem;margin:0}
        dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
        .good{color:#0b5e1e}.bad{color:#a30000;font-weight:600}.neutral{color:#1a1a1a}
        .notice{background:#e8f1fb;border-left:4px solid #0b4f9c;padding:.5rem .75rem}
        .error{background:#fdecec;border-left:4px solid #a30000;padding:.5rem .75rem}
        .scroll{overflow-x:auto}
        table{border-collapse:collapse;width:100%;margin:.5rem 0}
        caption{text-align:left;padding:.25rem 0;color:#333}
        th,td{border:1px solid #767676;padding:.35rem .5rem;text-align:left;vertical-align:top}
        thead th{background:#f0f0f0}
        form.inline{display:inline}
        button,input{font:inherit;padding:.4rem .8rem;border:1px solid #1a1a1a;border-radius:4px;min-height:2.5rem}
        button{background:#0b4f9c;color:#fff;cursor:pointer;margin:.1rem}
        input:not([type=hidden]){display:block;margin:.25rem 0 .75rem;width:100%;max-width:28rem;box-sizing:border-box}
        label{font-weight:600}
        a{color:#0b4f9c}
        :focus-visible{outline:3px solid #b35c00;outline-offset:2px}
        meter{width:100%;max-width:28rem}
        @media (max-width:40rem){dl{grid-template-columns:1fr}dt{margin-top:.5rem}}
        """

    /// A page under construction: head, body, escaped text.
    struct Document {
        private var output: String

        init(title: String) {
            output = """
                <!DOCTYPE html><html lang="en"><head><meta charset="utf-8">\
                <meta name="viewport" content="width=device-width, initial-scale=1">\
                <title>\(StatusPageHTML.escape(title))</title><link rel="stylesheet" href="/page.css"></head><body>
                """
        }

        mutating func raw(_ html: String) { output += html }
        mutating func text(_ text: String) { output += StatusPageHTML.escape(text) }

        mutating func item(_ term: String, _ value: String, state: String? = nil) {
            output += "<dt>" + StatusPageHTML.escape(term) + "</dt><dd"
            if let state { output += " class=\"\(state)\"" }
            output += ">" + StatusPageHTML.escape(value) + "</dd>"
        }

        mutating func cell(_ value: String) {
            output += "<td>" + StatusPageHTML.escape(value) + "</td>"
        }

        mutating func meter(label: String, value: Int64, maximum: Int64) {
            guard maximum > 0 else { return }
            let percent = min(100, max(0, Int(Double(value) * 100 / Double(maximum))))
            output += "<dt>" + StatusPageHTML.escape(label) + "</dt><dd><meter min=\"0\" max=\"100\" value=\"\(percent)\" aria-label=\""
                + StatusPageHTML.escape(label) + "\">\(percent) %</meter> \(percent) %</dd>"
        }

        mutating func csrf(_ token: String) {
            output += "<input type=\"hidden\" name=\"csrf\" value=\"" + StatusPageHTML.escape(token) + "\">"
        }

        func finish() -> String { output + "</body></html>\n" }
    }
}
