import ArgumentParser
import Gateway

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the gateway on the bundled demo configuration (buffers locally, or uploads to --upstream).",
        discussion: """
            Uses packaging/demo/config.yaml and the device-profiles folder, found next to an installed
            binary (<prefix>/share/fhir-edge/demo/config.yaml, <prefix>/share/fhir-edge/device-profiles)
            or in the source checkout above the binary or the working directory. In demo mode
            POST /ingest/demo-vitals needs no token from loopback. Push data with `fhir-edge simulate`,
            or publish it to the broker of --mqtt under fhir-edge/<profile>/<device>.
            """)

    @Option(name: .customLong("data-dir"), help: "Folder of the store.")
    var dataDir: String = "fhir-edge-demo-data"

    @Option(name: .long, help: "HOST:PORT of the local API (loopback only in demo mode).")
    var listen: String?

    @Option(name: .long, help: "FHIR base URL of a loopback server to upload to (PUT by deterministic id, no authentication).")
    var upstream: String?

    @Option(name: .long, help: "MQTT broker URL (mqtt://HOST:PORT): messages on fhir-edge/<profile>/# go into that profile.")
    var mqtt: String?
    @Option(name: .customLong("mllp-listen"), help: "HOST:PORT of an MLLP listener (loopback only) taking IHE PCD-01 messages into hl7-pcd01-vitals.")
    var mllpListen: String?

    func run() async throws {
        guard let bundled = GatewayLauncher.bundledDemo(executablePath: CommandLine.arguments.first ?? "") else {
            reportToStandardError("fhir-edge: cannot find the bundled demo (share/fhir-edge/demo/config.yaml or packaging/demo/config.yaml)")
            throw ExitCode(1)
        }
        let overrides = ConfigurationOverrides(dataDirectory: dataDir, listen: listen, upstream: upstream, mqtt: mqtt, mllpListen: mllpListen)
        try await DaemonStart.run(file: bundled.config, overrides: overrides, profilesDirectory: bundled.profiles)
    }
}
