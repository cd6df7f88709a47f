import ArgumentParser
import JSONQuery

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the box as a technician would, and say how to fix what is wrong.",
        discussion: """
            Checks the configuration, the data directory's owner and modes, free disk against \
            store.maxBytes, clock synchronisation, the upstream server (DNS, TLS chain and expiry, \
            authentication, capabilities, as `upstream check` does), the Bluetooth adapter \
            (present, not rfkill-blocked, the capabilities of the HCI user channel), the serial \
            ports of Modbus RTU devices, and the service's state. Each finding that is not ok \
            comes with its fix.

            Without --config, /etc/fhir-edge/config.yaml is used when it exists. Exits 0 when no \
            check failed (warnings and skipped checks included), 1 when one did.
            """)

    @Option(name: .long, help: "The gateway's configuration file (default: /etc/fhir-edge/config.yaml when present).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The data directory (replaces dataDir of --config).")
    var dataDir: String?

    @Flag(name: .long, help: "Print the findings as JSON.")
    var json = false

    func run() async throws {
        var doctor = Doctor(configurationFile: config, dataDirectory: dataDir)
        await doctor.run()
        if json {
            print(JSONWriter(options: [.pretty]).string(doctor.json))
        } else {
            for line in doctor.lines { print(line) }
        }
        if doctor.problems { throw ExitCode(1) }
    }
}
