import BluetoothDecoding

/// A device session's way to its device through the host stack: waits for the device's advert
/// (for its address type), connects, and speaks GATT on the link; secures it with the bonds
/// in `bonds` as `pairing` allows.
package struct HostDeviceLink: DeviceLink {
    package let host: BluetoothHost
    package let address: BluetoothAddress
    package let sightings: AdvertSightings
    package let bonds: BondStore
    package let pairing: PairingPolicy
    /// Hears of every bond kept (pairing on any link), and whether it replaced a lost one.
    package let bondKept: (@Sendable (_ bond: Bond, _ replacedLostBond: Bool) async -> Void)?

    package init(
        host: BluetoothHost, address: BluetoothAddress, sightings: AdvertSightings, bonds: BondStore, pairing: PairingPolicy,
        bondKept: (@Sendable (_ bond: Bond, _ replacedLostBond: Bool) async -> Void)? = nil
    ) {
        self.host = host
        self.address = address
        self.sightings = sightings
        self.bonds = bonds
        self.pairing = pairing
        self.bondKept = bondKept
    }

    package func connect(timeout: Duration) async throws -> any DeviceConnection {
        // The host's clock times the whole attempt, so a test's clock runs a silent controller's waits.
        let clock = host.clock
        var sighted: BluetoothAddress?
        let waited = await clock.measure { sighted = await sightings.connectableAddress(of: address, within: timeout, clock: clock) }
        guard let peer = sighted else {
            throw SessionFailure(.connect, "\(address) did not advertise (connectable) within \(timeout)")
        }
        let left = max(timeout - waited, .seconds(1))
        let gatt: GATTConnection
        do {
            gatt = try await host.connect(to: peer, timeout: left)
        } catch {
            throw SessionFailure(.connect, "\(error)")
        }
        return HostDeviceConnection(gatt: gatt, security: LinkSecurity(channel: gatt, bonds: bonds, policy: pairing, clock: clock, bondKept: bondKept))
    }
}

/// One GATT link as a device session uses it.
struct HostDeviceConnection: DeviceConnection {
    let gatt: GATTConnection
    let security: LinkSecurity

    var events: AsyncStream<ConnectionEvent> { gatt.events }

    func confirmIndication() async {
        await gatt.confirmIndication()
    }

    func serve() async {
        await security.run()
    }

    func discoverMeasurements() async throws -> [MeasurementCharacteristic] {
        // A larger MTU only spares Read Blobs; a peer that refuses keeps the default 23.
        _ = try? await gatt.exchangeMTU()
        var found: [MeasurementCharacteristic] = []
        for service in try await gatt.discoverPrimaryServices() {
            guard let uuid = service.uuid.uuid16, HealthCharacteristic.services.contains(uuid) else { continue }
            for characteristic in try await gatt.discoverCharacteristics(of: service) {
                guard let uuid = characteristic.uuid.uuid16, let health = HealthCharacteristic(uuid16: uuid),
                      let configuration = characteristic.configurationHandle,
                      !characteristic.properties.isDisjoint(with: [.notify, .indicate])
                else { continue }
                // Indications when offered: the device learns that the gateway has each value.
                found.append(MeasurementCharacteristic(
                    health, valueHandle: characteristic.valueHandle, configurationHandle: configuration,
                    indicates: characteristic.properties.contains(.indicate)))
            }
        }
        return found
    }

    func readDeviceInformation() async -> DeviceInformation? {
        guard let services = try? await gatt.discoverPrimaryServices(),
              let service = services.first(where: { $0.uuid.uuid16 == DeviceInformation.serviceUUID }),
              let characteristics = try? await gatt.discoverCharacteristics(of: service)
        else { return nil }
        var information = DeviceInformation()
        for characteristic in characteristics where characteristic.properties.contains(.read) {
            guard let uuid = characteristic.uuid.uuid16, DeviceInformation.fields.contains(where: { $0.uuid16 == uuid }),
                  let value = try? await gatt.read(characteristic.valueHandle)
            else { continue }
            information.record(uuid16: uuid, value: value)
        }
        return information.isEmpty ? nil : information
    }

    func readCurrentTime() async -> [UInt8]? {
        guard let services = try? await gatt.discoverPrimaryServices(),
              let service = services.first(where: { $0.uuid.uuid16 == CurrentTime.serviceUUID }),
              let characteristics = try? await gatt.discoverCharacteristics(of: service),
              let characteristic = characteristics.first(where: {
                  $0.uuid.uuid16 == CurrentTime.characteristicUUID && $0.properties.contains(.read)
              })
        else { return nil }
        return try? await gatt.read(characteristic.valueHandle)
    }

    func subscribe(_ characteristic: MeasurementCharacteristic) async throws {
        try await gatt.write(characteristic.configurationHandle, value: characteristic.configurationValue)
    }

    func secure() async throws {
        do {
            _ = try await security.secure()
        } catch {
            throw SessionFailure(.secure, error.message)
        }
    }

    func disconnect() async {
        await gatt.disconnect()
    }
}
