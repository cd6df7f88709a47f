import ArgumentParser
import Gateway
import Simulator

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Push realistic demo-vitals readings to a gateway's ingest API and count the 202s.",
        discussion: "Deterministic for a --seed. Exits 0 when every message was accepted, 1 otherwise.")

    @Option(name: .long, help: "The gateway's local API.")
    var url: String = "http://127.0.0.1:8088"

    @Option(name: .long, help: "Simulated monitors.")
    var devices: Int = 3

    @Option(name: .long, help: "Messages per device.")
    var count: Int = 10

    @Option(name: .long, help: "Seconds between requests (fractions allowed).")
    var interval: Double = 0

    @Option(name: .long, help: "Messages per request (sent as a JSON array when above 1).")
    var batch: Int = 1

    @Option(name: .long, help: "Profile to post to.")
    var profile: String = "demo-vitals"

    @Option(name: .long, help: "Bearer token (not needed for demo-vitals in demo mode).")
    var token: String?

    @Option(name: .long, help: "Seed of the generator.")
    var seed: UInt64 = 1

    func validate() throws {
        guard devices > 0, count >= 0, batch > 0, interval >= 0 else {
            throw ValidationError("--devices and --batch must be positive, --count and --interval not negative")
        }
        guard Simulation.endpoint(url) != nil else { throw ValidationError("--url must look like http://127.0.0.1:8088") }
    }

    func run() async throws {
        guard let (host, port) = Simulation.endpoint(url) else { throw ExitCode(2) }
        let simulation = Simulation(
            host: host, port: port, profile: profile, token: token, devices: devices, count: count, batch: batch,
            interval: .milliseconds(Int64((interval * 1000).rounded())), seed: seed)
        let report = await simulation.run(now: Gateway.systemClock)
        let statuses = report.statuses.keys.sorted().map { "\($0 == 0 ? "no answer" : String($0)): \(report.statuses[$0] ?? 0)" }
        print("sent \(report.messages) message(s) in \(report.requests) request(s); \(report.accepted) accepted (202); \(statuses.joined(separator: ", "))")
        if report.accepted != report.messages { throw ExitCode(1) }
    }
}
