import Bluetooth
import BluetoothDecoding
import EdgeCore
import JSONQuery
import Logging
import ServiceLifecycle
import Store

extension Gateway {
    /// The Bluetooth LE source for the `bluetooth:` section: one host stack on the configured
    /// controller, one session per listed device, one scan (BTHome sensors, RSSI, address types).
    /// Throws, before anything starts, when a device names a profile that is missing.
    func bluetoothServices() throws -> [any Service] {
        guard let bluetooth = configuration.bluetooth else { return [] }
        let problems = bluetooth.profileReferences.filter { catalog[$0.profile] == nil }.map { reference in
            ConfigurationProblem(
                file: configuration.file, keyPath: reference.keyPath,
                message: "no profile folder \(reference.profile) under \(configuration.profiles.directory)")
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        logger.info("Reading Bluetooth LE devices", metadata: [
            "edge.ble.transport": "\(bluetooth.transport)",
            "edge.ble.devices": "\(bluetooth.devices.map(\.address).joined(separator: ","))",
            "edge.ble.bthome": "\(bluetooth.bthome.map(\.address).joined(separator: ","))",
        ])
        return [BluetoothService(
            configuration: bluetooth, dataDirectory: configuration.dataDirectory, sink: intakeSink, health: acquisitionHealth,
            journal: { [store] events in try? await store.journal(events) },
            now: now, seed: UInt64(bitPattern: now().millisecondsSinceEpoch), logger: logger)]
    }
}

/// Runs the host stack and the sessions until graceful shutdown. When the controller goes away
/// (a dongle unplugged, the transport closed) every session stops, the failure is recorded, and
/// the stack is opened again after a backoff.
struct BluetoothService: Service {
    let configuration: GatewayConfiguration.Bluetooth
    let dataDirectory: String
    let sink: IntakeSink
    let health: AcquisitionHealth
    /// Bonds the daemon makes (a device that lost its bond, paired again) go to the store's journal.
    let journal: @Sendable ([JournalEvent]) async -> Void
    let now: @Sendable () -> Timestamp
    let seed: UInt64
    let logger: Logger

    /// The controller's own line in `/status` → `acquisition`.
    static let controllerDevice = "controller"
    static let controllerProfile = ProfileID("bluetooth")

    func run() async {
        await cancelWhenGracefulShutdown {
            var random = SplitMix64(seed: seed)
            let backoff = ReconnectBackoff(base: configuration.reconnectBase, cap: configuration.reconnectCap)
            var failures = 0
            while !Task.isCancelled {
                let host: BluetoothHost
                do {
                    host = try await BluetoothHost.open(configuration.transport, configuration: Self.hostConfiguration)
                } catch {
                    failures += 1
                    await controllerFailed("cannot open the controller: \(error)")
                    try? await Task.sleep(for: backoff.delay(failures: failures, using: &random))
                    continue
                }
                let info = await host.controller
                await health.recordSuccess(
                    transport: .ble, device: Self.controllerDevice, profile: Self.controllerProfile, readings: 0, at: now(),
                    details: ["transport": .string(configuration.transport.description), "address": .string(info?.address.description ?? "")])
                failures = 0
                let reason = await runSessions(on: host, seed: random.next())
                await host.close()
                guard !Task.isCancelled else { break }
                failures += 1
                await controllerFailed(reason)
                try? await Task.sleep(for: backoff.delay(failures: failures, using: &random))
            }
        }
    }

    static var hostConfiguration: HostConfiguration {
        var configuration = HostConfiguration()
        configuration.handlesSecurity = true
        return configuration
    }

    private func controllerFailed(_ message: String) async {
        logger.error("Bluetooth controller unavailable", metadata: [
            "edge.ble.transport": "\(configuration.transport)", "edge.error": "\(message)",
        ])
        await health.recordFailure(
            transport: .ble, device: Self.controllerDevice, profile: Self.controllerProfile, error: message, at: now(),
            details: ["transport": .string(configuration.transport.description)])
    }

    /// Scans and runs every session until the scan ends (the host failed) or the task is
    /// cancelled; returns why it stopped.
    private func runSessions(on host: BluetoothHost, seed: UInt64) async -> String {
        let sightings = AdvertSightings()
        let reports: AsyncStream<ScanReport>
        do {
            reports = try await host.startScan(ScanOptions(active: configuration.scanning == .active, filterDuplicates: false))
        } catch {
            return "cannot start scanning: \(error)"
        }
        let bonds = BondStore(dataDirectory: dataDirectory)
        var random = SplitMix64(seed: seed)
        return await withTaskGroup(of: String?.self) { group in
            for device in configuration.devices {
                guard let address = BluetoothAddress(device.address) else { continue }
                let settings = DeviceSessionSettings(
                    address: address, requiresPairing: device.requirePairing,
                    backoff: ReconnectBackoff(base: configuration.reconnectBase, cap: configuration.reconnectCap),
                    connectTimeout: configuration.connectTimeout, clockToleranceSeconds: device.clockToleranceSeconds)
                let reporter = BluetoothDeviceReporter(
                    address: device.address, profile: ProfileID(device.profile), patientID: device.patientID, sink: sink, health: health,
                    journal: journal, now: now, logger: logger)
                let session = DeviceSession(
                    settings: settings,
                    link: HostDeviceLink(
                        host: host, address: address, sightings: sightings, bonds: bonds,
                        pairing: PairingPolicy(allowLegacyPairing: device.allowLegacyPairing, repairWhenKeyMissing: device.repairWhenKeyMissing),
                        bondKept: { bond, replaced in await reporter.bonded(bond, replacedLostBond: replaced) }),
                    seed: random.next(), now: now,
                    deliver: { try await reporter.deliver($0) }, observe: { await reporter.observe($0) })
                group.addTask {
                    await session.run()
                    return nil
                }
            }
            let scanner = BluetoothScanner(configuration: configuration, sightings: sightings, sink: sink, health: health, now: now, logger: logger)
            group.addTask {
                await scanner.consume(reports)
                return Task.isCancelled ? nil : "the controller stopped reporting adverts"
            }
            // The first child to end with a reason is the scan: the host failed. Stop the rest.
            var reason = "stopped"
            while let ended = await group.next() {
                if let ended {
                    reason = await host.failure.map { "\($0)" } ?? ended
                    group.cancelAll()
                }
            }
            return reason
        }
    }
}

/// One device's readings into the inbox, its session's reports into health and logs.
struct BluetoothDeviceReporter: Sendable {
    let address: String
    let profile: ProfileID
    let patientID: String?
    let sink: IntakeSink
    let health: AcquisitionHealth
    let journal: @Sendable ([JournalEvent]) async -> Void
    let now: @Sendable () -> Timestamp
    let logger: Logger

    var sourceID: String { "ble:" + address }

    /// The device id in messages and the inbox: the PHD IG's form of a Bluetooth address
    /// (`F0-00-00-00-18-10`), however the configuration writes it (`f0:00:00:00:18:10` too).
    /// Status, metrics and logs keep the configuration's spelling.
    var deviceID: String { BluetoothAddress(address)?.eui48 ?? address }

    /// A bond the session kept (first pairing, or again after the device lost it), journaled as
    /// `ble pair` journals one: identifiers and key properties, never a key.
    func bonded(_ bond: Bond, replacedLostBond: Bool) async {
        logger.notice("Bluetooth device bonded", metadata: [
            "edge.device": "\(address)", "edge.ble.replacedLostBond": "\(replacedLostBond)",
        ])
        await journal([JournalEvent(
            kind: JournalKind("bluetooth.bonded"), actor: "gateway", subjects: [.device(address)],
            details: [
                "secureConnections": .bool(bond.secureConnections), "keySize": .int(Int64(bond.keySize)),
                "replacedLostBond": .bool(replacedLostBond), "profile": .string(profile.rawValue),
            ])])
    }

    /// Durable in the inbox before the session takes the next value.
    func deliver(_ reading: DeviceReading) async throws {
        let message = DeviceMessage(
            profile: profile, transport: .ble, sourceID: sourceID, deviceID: deviceID,
            message: reading.reading.message(deviceID: deviceID, receivedAt: reading.receivedAt, patientID: patientID, device: reading.device,
                clock: reading.clock))
        try await sink.commit([message], actor: sourceID)
        await health.recordSuccess(
            transport: .ble, device: address, profile: profile, readings: 1, at: reading.receivedAt,
            details: ["lastCharacteristic": .string(reading.reading.characteristic.key)])
    }

    func observe(_ observation: SessionObservation) async {
        switch observation {
        case .up(let subscribed):
            logger.info("Bluetooth device subscribed", metadata: [
                "edge.device": "\(address)", "edge.ble.characteristics": "\(subscribed.map(\.characteristic.key).joined(separator: ","))",
            ])
            await health.recordSuccess(
                transport: .ble, device: address, profile: profile, readings: 0, at: now(),
                details: ["connected": true, "subscriptions": .array(subscribed.map { .string($0.characteristic.key) })])
        case .failure(let failure):
            logger.warning("Bluetooth device failure", metadata: [
                "edge.device": "\(address)", "edge.ble.stage": "\(failure.stage.rawValue)", "edge.error": "\(failure.message)",
            ])
            var details: JSONObject = ["stage": .string(failure.stage.rawValue)]
            if failure.stage != .decode, failure.stage != .deliver { details["connected"] = false }
            await health.recordFailure(transport: .ble, device: address, profile: profile, error: failure.description, at: now(), details: details)
        case .disconnected(let reason):
            let name = DisconnectReason.name(reason)
            logger.info("Bluetooth device disconnected", metadata: ["edge.device": "\(address)", "edge.ble.reason": "\(name)"])
            await health.recordDetails(
                transport: .ble, device: address, profile: profile, details: ["connected": false, "lastDisconnect": .string(name)])
        }
    }
}

/// The one scan: records sightings (address types for connecting, RSSI and last seen for
/// health) of listed devices, and reads BTHome sensors' adverts. Unlisted devices are ignored.
struct BluetoothScanner: Sendable {
    let configuration: GatewayConfiguration.Bluetooth
    let sightings: AdvertSightings
    let sink: IntakeSink
    let health: AcquisitionHealth
    let now: @Sendable () -> Timestamp
    let logger: Logger

    /// RSSI and last-seen reach `/status` at most this often per device (adverts come every 100 ms).
    static let detailsInterval: Int64 = 1000

    func consume(_ reports: AsyncStream<ScanReport>) async {
        var devices: [UInt64: Listed] = [:]
        for device in configuration.devices {
            if let address = BluetoothAddress(device.address) { devices[address.value] = Listed(address: device.address, profile: ProfileID(device.profile)) }
        }
        var sensors: [UInt64: Listed] = [:]
        for sensor in configuration.bthome {
            if let address = BluetoothAddress(sensor.address) {
                sensors[address.value] = Listed(
                    address: sensor.address, profile: ProfileID(sensor.profile), patientID: sensor.patientID, bindKey: sensor.bindKey,
                    octets: address.littleEndianBytes.reversed())
            }
        }
        var lastDetails: [UInt64: Int64] = [:]
        var lastServiceData: [UInt64: [UInt8]] = [:]
        for await report in reports {
            let value = report.address.value
            guard let listed = devices[value] ?? sensors[value] else { continue }
            let time = now()
            if devices[value] != nil { await sightings.record(report, at: time) }
            if time.millisecondsSinceEpoch - (lastDetails[value] ?? .min / 2) >= Self.detailsInterval {
                lastDetails[value] = time.millisecondsSinceEpoch
                var details: JSONObject = ["lastSeen": .string(time.iso8601)]
                if let rssi = report.rssi { details["rssi"] = .int(Int64(rssi)) }
                await health.recordDetails(transport: .ble, device: listed.address, profile: listed.profile, details: details)
            }
            guard sensors[value] != nil,
                  let data = report.advertisingData?.serviceData.first(where: { $0.uuid.uuid16 == BTHomeDecoder.serviceUUID })?.data,
                  data != lastServiceData[value]
            else { continue }
            // A sensor repeats each advert many times (and its packet id says so): one message
            // per distinct advert.
            lastServiceData[value] = data
            await deliverAdvert(data, from: listed, at: time)
        }
    }

    struct Listed {
        var address: String
        var profile: ProfileID
        var patientID: String? = nil
        var bindKey: [UInt8]? = nil
        /// The address as written, most significant octet first (part of the BTHome nonce).
        var octets: [UInt8] = []
    }

    private func deliverAdvert(_ data: [UInt8], from sensor: Listed, at time: Timestamp) async {
        let address = sensor.address, profile = sensor.profile
        let deviceID = BluetoothAddress(address)?.eui48 ?? address
        let advert: BTHomeAdvert
        do {
            advert = try BTHomeDecoder.decode(serviceData: data, bindKey: sensor.bindKey, address: sensor.bindKey == nil ? nil : sensor.octets)
        } catch {
            logger.warning("BTHome advert not decoded", metadata: ["edge.device": "\(address)", "edge.error": "\(error)"])
            await health.recordFailure(transport: .ble, device: address, profile: profile, error: "decode: \(error)", at: time)
            return
        }
        let message = DeviceMessage(
            profile: profile, transport: .ble, sourceID: "ble:" + address, deviceID: deviceID,
            message: advert.message(deviceID: deviceID, receivedAt: time, patientID: sensor.patientID))
        do {
            try await sink.commit([message], actor: message.sourceID)
        } catch {
            // Counted by the sink; the sensor repeats its advert, so the next distinct one is taken.
            await health.recordFailure(transport: .ble, device: address, profile: profile, error: "deliver: \(error)", at: time)
            return
        }
        await health.recordSuccess(transport: .ble, device: address, profile: profile, readings: 1, at: time)
    }
}
