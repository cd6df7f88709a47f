import ArgumentParser
import Gateway

@main
struct FHIREdge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir-edge",
        abstract: "An edge gateway that turns medical-device readings into FHIR R4 Observations.",
        version: GatewayVersion.current,
        subcommands: [MapCommand.self, QueryCommand.self, RunCommand.self, DemoCommand.self, ConfigCommand.self, SimulateCommand.self,
                      QueueCommand.self, ExportCommand.self, ImportCommand.self, ReconcileCommand.self, KeygenCommand.self, ExportKeyCommand.self, DeadLetterCommand.self, AuditCommand.self,
                      UpstreamCommand.self, ModbusCommand.self, BluetoothCommand.self, StoreCommand.self,
                      DoctorCommand.self, DiagnosticsCommand.self]
    )
}
