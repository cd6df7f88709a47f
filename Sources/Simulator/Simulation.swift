package import EdgeCore
import JSONQuery

/// Pushes simulated vital signs to a gateway's ingest API and counts the answers.
package struct Simulation: Sendable {
    package struct Report: Sendable, Equatable {
        package var messages = 0
        package var requests = 0
        /// Messages acknowledged with 202 (committed by the gateway).
        package var accepted = 0
        /// Requests by HTTP status; 0 stands for a request that got no answer.
        package var statuses: [Int: Int] = [:]
    }

    package var host: String
    package var port: Int
    package var profile: String
    package var token: String?
    package var devices: Int
    /// Messages per device.
    package var count: Int
    /// Messages per request (a JSON array when above 1).
    package var batch: Int
    package var interval: Duration
    package var seed: UInt64

    package init(
        host: String, port: Int, profile: String = "demo-vitals", token: String? = nil, devices: Int = 3, count: Int = 10,
        batch: Int = 1, interval: Duration = .zero, seed: UInt64 = 1
    ) {
        self.host = host
        self.port = port
        self.profile = profile
        self.token = token
        self.devices = devices
        self.count = count
        self.batch = batch
        self.interval = interval
        self.seed = seed
    }

    /// Parses `http://HOST:PORT[/...]`; the path is ignored (messages go to `/ingest/{profile}`).
    package static func endpoint(_ url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        guard let address = ListenAddress(parsing: String(authority)) else { return nil }
        return (address.host, address.port)
    }

    /// Runs to the end; `now` stamps `measuredAt`.
    package func run(now: @escaping @Sendable () -> Timestamp) async -> Report {
        var simulator = VitalsSimulator(devices: devices, seed: seed)
        let client = LoopbackHTTPClient(host: host, port: port)
        var report = Report()
        let total = max(0, devices) * max(0, count)
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer " + token)) }
        // Each device reads once per step: in real time with --interval, otherwise back-dated so
        // that a fast run still gives every reading its own second (and its own Observation).
        let step = max(interval, .seconds(1))
        let stepMilliseconds = step.wholeMilliseconds
        let readings = Int64(max(0, count))
        let start = interval > .zero ? now() : now().adding(milliseconds: -readings * stepMilliseconds)
        var sent = 0
        while sent < total {
            let size = min(max(1, batch), total - sent)
            let messages = (sent..<(sent + size)).map { index in
                let reading = Int64(index / max(1, devices))
                let time = interval > .zero ? now() : start.adding(milliseconds: reading * stepMilliseconds)
                return simulator.nextMessage(at: time)
            }
            let body: JSONValue = size == 1 && batch == 1 ? messages[0] : .array(messages)
            var bytes: [UInt8] = []
            JSONWriter().write(body, into: &bytes)
            let status: Int
            do {
                status = try await client.send("POST", "/ingest/\(profile)", headers: headers, body: bytes).status
            } catch {
                status = 0
            }
            report.requests += 1
            report.messages += size
            report.statuses[status, default: 0] += 1
            if status == 202 { report.accepted += size }
            sent += size
            if interval > .zero, sent < total { try? await Task.sleep(for: interval) }
        }
        return report
    }
}
