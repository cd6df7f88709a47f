import FoundationEssentials
import EdgeCore
import EdgeSystem
import JSONQuery
import Logging
package import Modbus
import ServiceLifecycle

extension Gateway {
    /// One poller per link (each TCP endpoint, each RS-485 bus) for the devices under `modbus:`,
    /// all in one Service. Throws, before anything starts, when a device names a profile that is
    /// missing or has no `modbus:` register map.
    func modbusServices() throws -> [any Service] {
        guard !configuration.modbus.devices.isEmpty else { return [] }
        let (links, problems) = ModbusProfiles.links(configuration, catalog: catalog)
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        let delivery = ModbusDelivery(sink: intakeSink, health: acquisitionHealth, logger: logger)
        let wallClock = now
        let pollers = links.map { endpoint, devices in
            ModbusLinkPoller(
                link: LibmodbusLink(endpoint), devices: devices, clock: ContinuousClock(), wallClock: wallClock,
                onPoll: { await delivery.deliver($0) })
        }
        for (endpoint, devices) in links {
            logger.info("Polling Modbus devices", metadata: [
                "edge.modbus.endpoint": "\(endpoint)", "edge.modbus.devices": "\(devices.map(\.name).joined(separator: ","))",
            ])
        }
        return [ModbusPollingService(pollers: pollers)]
    }
}

/// Every link's poller as one child task; graceful shutdown cancels them, and each closes its link.
struct ModbusPollingService: Service {
    let pollers: [ModbusLinkPoller<ContinuousClock>]

    func run() async {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for poller in pollers { group.addTask { await poller.run() } }
            }
        }
    }
}

/// Turns poll results into inbox messages and device health.
struct ModbusDelivery: Sendable {
    let sink: IntakeSink
    let health: AcquisitionHealth
    let logger: Logger

    func deliver(_ result: ModbusPollResult) async {
        let device = result.device
        var details: JSONObject = [
            "unit": .int(Int64(device.settings.unit)), "requests": .int(Int64(result.requests)), "retries": .int(Int64(result.retries)),
            "skippedPolls": .int(Int64(result.skippedPolls)),
        ]
        if let failure = result.failures.last, case .exception(let exception) = failure.error.kind {
            details["exception"] = .string(exception.description)
            details["exceptionCode"] = .int(Int64(exception.rawValue))
        }
        guard let message = result.message else {
            await health.recordFailure(
                transport: .modbus, device: device.name, profile: device.profile, error: result.errorName ?? "no reply",
                at: result.startedAt, details: details)
            return
        }
        do {
            let sourceID = "modbus:" + device.name
            try await sink.commit([DeviceMessage(
                profile: device.profile, transport: .modbus, sourceID: sourceID, deviceID: device.name, message: message)], actor: sourceID)
        } catch {
            // Counted by the sink (high-water refusal or store error); the poll's values are dropped.
            logger.warning("Modbus poll not stored", metadata: ["edge.device": "\(device.name)", "edge.store.error": "\(error.refusal.code)"])
            await health.recordFailure(
                transport: .modbus, device: device.name, profile: device.profile, error: "store refused: \(error.refusal.code)",
                at: result.startedAt, details: details)
            return
        }
        if !result.isComplete, let name = result.errorName {
            // Some points were read, some not: the message went out, the missing points are named in it.
            details["lastIncomplete"] = .string(name)
        } else {
            // Details are merged, so a complete poll clears what an earlier failure left.
            details["exception"] = .null
            details["exceptionCode"] = .null
            details["lastIncomplete"] = .null
        }
        await health.recordSuccess(transport: .modbus, device: device.name, profile: device.profile, at: result.startedAt, details: details)
    }
}

/// Loading a Modbus device profile outside the daemon (`fhir-edge modbus poll`) and the register
/// maps of the daemon's devices.
package enum ModbusProfiles {
    /// The configured devices with their profiles' register maps and overrides, grouped by link in
    /// configuration order, and every problem: a missing profile, a profile without a register map.
    static func links(
        _ configuration: GatewayConfiguration, catalog: DeviceProfileCatalog
    ) -> (links: [(ModbusEndpoint, [ModbusDevice])], problems: [ConfigurationProblem]) {
        var problems: [ConfigurationProblem] = []
        var byEndpoint: [ModbusEndpoint: [ModbusDevice]] = [:]
        var order: [ModbusEndpoint] = []
        var maps: [String: RegisterMap] = [:]
        for device in configuration.modbus.devices {
            let path = "modbus.devices.\(device.name).profile"
            guard catalog[device.profile] != nil else {
                problems.append(ConfigurationProblem(
                    file: configuration.file, keyPath: path,
                    message: "no profile folder \(device.profile) under \(configuration.profiles.directory)"))
                continue
            }
            let map: RegisterMap
            if let known = maps[device.profile] {
                map = known
            } else {
                do {
                    map = try registerMap(folder: FilePaths.join(configuration.profiles.directory, device.profile))
                } catch {
                    problems += error.problems.map { problem in
                        var problem = problem
                        problem.message += " (used by \(path))"
                        return problem
                    }
                    continue
                }
                maps[device.profile] = map
            }
            let modbusDevice = ModbusDevice(
                name: device.name, profile: ProfileID(device.profile), patientID: device.patientID, points: map.points,
                settings: device.overrides.applied(to: map.settings))
            if byEndpoint[device.endpoint] == nil { order.append(device.endpoint) }
            byEndpoint[device.endpoint, default: []].append(modbusDevice)
        }
        return (order.map { ($0, byEndpoint[$0] ?? []) }, problems)
    }

    /// Problems of the `modbus:` devices against the loaded profiles, for `config check` and `run`.
    static func problems(_ configuration: GatewayConfiguration, catalog: DeviceProfileCatalog) -> [ConfigurationProblem] {
        configuration.modbus.devices.isEmpty ? [] : links(configuration, catalog: catalog).problems
    }

    /// The compiled profile in `folder` and its register map.
    package static func load(folder: String) throws(ConfigurationError) -> (profile: DeviceProfile, map: RegisterMap) {
        (try DeviceProfile.load(folder: folder), try registerMap(folder: folder))
    }

    /// The `modbus:` section of `folder/profile.yaml`.
    package static func registerMap(folder: String) throws(ConfigurationError) -> RegisterMap {
        let path = FilePaths.join(folder, DeviceProfileCatalog.settingsFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(problems: [ConfigurationProblem(file: path, keyPath: "", message: "cannot read the file; a Modbus profile needs a modbus: section in it")])
        }
        switch ProfileSettings.decode(yaml: String(decoding: data, as: UTF8.self), file: path) {
        case .success(let settings):
            guard let map = settings.modbus else {
                throw ConfigurationError(problems: [ConfigurationProblem(file: path, keyPath: "modbus", message: "missing; the profile has no register map")])
            }
            return map
        case .failure(let error):
            throw error
        }
    }
}
