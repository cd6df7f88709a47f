import ArgumentParser
import EdgeCore
import EdgeSystem
import FoundationEssentials
import Gateway
import JSONQuery
import Mapping
import Modbus

extension ModbusCommand {
    /// `fhir-edge modbus poll`: one poll of one device with a profile's register map, and the
    /// Observations its templates make of it.
    struct Poll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Poll one Modbus device once with a device profile and print its message and Observations.",
            discussion: """
                Reads the points of the profile's modbus: register map (with the requests the gateway \
                would send: --plan prints them without connecting), builds the device message the \
                daemon would store, and runs the profile's templates on it as `fhir-edge map` does. \
                Prints {"plan": [...], "messages": [...], "observations": [...], "errors": [...], \
                "failures": [...]}. Exits 1 when no request of the poll succeeded (the cause, e.g. \
                "timeout" or "illegal data address", on stderr), 2 on usage errors.
                """)

        @Option(help: "The device profile folder (profile.yaml with a modbus: section, devicecontent.json, fhirmapping.json).")
        var profile: String

        @OptionGroup var connection: ModbusConnectionOptions

        @Option(help: "Unit (slave) id; default: the profile's.")
        var unit: Int?

        @Option(name: .customLong("device-id"), help: "The message's deviceId; default: the profile folder's name.")
        var deviceID: String?

        @Option(name: .customLong("patient-id"), help: "A patientId for the message (a device assigned to a patient).")
        var patientID: String?

        @Option(name: .customLong("timeout-ms"), help: "Response timeout in milliseconds; default: the profile's.")
        var timeoutMilliseconds: Int?

        @Flag(name: .customLong("no-merge"), help: "One request per point instead of merged requests.")
        var noMerge = false

        @Flag(help: "Print the planned requests and exit without connecting.")
        var plan = false

        func run() async throws {
            let loaded: (profile: DeviceProfile, map: RegisterMap)
            let device: ModbusDevice
            do throws(any Error) {
                loaded = try ModbusProfiles.load(folder: profile)
                var settings = loaded.map.settings
                if let unit {
                    guard (0...255).contains(unit) else { throw UsageFailure("--unit must be 0 to 255") }
                    settings.unit = UInt8(unit)
                }
                if let timeoutMilliseconds {
                    guard (1...60_000).contains(timeoutMilliseconds) else { throw UsageFailure("--timeout-ms must be 1 to 60000") }
                    settings.timeout = .milliseconds(timeoutMilliseconds)
                }
                if noMerge { settings.mergesRequests = false }
                let name = deviceID ?? FilePaths.lastComponent(of: profile)
                device = ModbusDevice(name: name, profile: loaded.profile.id, patientID: patientID, points: loaded.map.points, settings: settings)
            } catch {
                standardError("fhir-edge: \(error is ConfigurationError ? "unusable profile:\n" : "")\(error)")
                throw ExitCode(2)
            }
            let planLines = JSONValue.array(device.plan.describe(points: device.points).map { .string($0) })
            if plan {
                printJSON(["plan": planLines, "requests": .int(Int64(device.plan.reads.count)), "registers": .int(Int64(device.plan.registerCount))])
                return
            }
            let endpoint: ModbusEndpoint
            do {
                endpoint = try connection.endpoint()
            } catch let failure as UsageFailure {
                standardError("fhir-edge: \(failure.description)")
                throw ExitCode(2)
            }
            let link = LibmodbusLink(endpoint)
            let poller = ModbusLinkPoller(
                link: link, devices: [], clock: ContinuousClock(), wallClock: { Timestamp.now() }, onPoll: { _ in })
            let result = await poller.poll(device)
            await link.close()

            var output: JSONObject = ["plan": planLines]
            output["failures"] = .array(result.failures.map { failure in
                ["request": .string(failure.request.description), "error": .string(ModbusPollResult.name(of: failure.error)),
                 "points": .array(failure.points.map { .string($0) })]
            })
            guard let message = result.message else {
                printJSON(.object(output))
                standardError("fhir-edge: \(result.failures.last?.error.message ?? "no reply")")
                throw ExitCode(1)
            }
            output["messages"] = [message]
            let (observations, errors) = Self.map(message, with: loaded.profile, issued: Timestamp.now())
            output["observations"] = .array(observations)
            output["errors"] = .array(errors)
            printJSON(.object(output))
        }

        /// The profile's pipeline on one message, as the daemon and `fhir-edge map --profile` run it.
        static func map(_ message: JSONValue, with profile: DeviceProfile, issued: Timestamp) -> (observations: [JSONValue], errors: [JSONValue]) {
            let mapped = profile.pipeline.map([.init(json: message, receivedAt: issued, sequence: 0, transport: .modbus)], issued: issued)
            if case .failure(let failure)? = mapped.outcomes.first {
                return ([], [["type": .string(failure.type), "message": .string(failure.message)]])
            }
            return (
                mapped.observations.map(\.json),
                mapped.conversionErrors.map { ["type": .string($0.type), "message": .string($0.message)] })
        }
    }
}

extension Timestamp {
    static func now() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }
}
