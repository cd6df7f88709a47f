import ArgumentParser
import Bluetooth
import BluetoothDecoding
import EdgeCore
import EdgeSystem
import FoundationEssentials
import Gateway
import JSONQuery

extension BluetoothCommand {
    struct Listen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect to a health device and print each reading it sends.",
            discussion: """
                Waits for the device's advert, connects, discovers its services, subscribes to every \
                standard measurement characteristic (heart rate, blood pressure, thermometer, weight, \
                body composition, pulse oximeter, glucose) and prints each decoded reading for \
                --seconds: characteristic, values with UCUM units, and the device's timestamp. A \
                device that refuses the subscription until the link is encrypted is paired (LE Secure \
                Connections) and bonded; the keys are kept under --data-dir, so the next connection \
                only re-encrypts. A lost link is reconnected with backoff. With --json, each reading \
                is one line: the JSON device message the ble-* profiles' templates read. Status goes \
                to stderr. Exits 1 when the device was never subscribed.
                """)

        @Argument(help: "The device address, e.g. F0:00:00:00:18:0D.")
        var address: String

        @OptionGroup var transport: BluetoothTransportOptions

        @Option(name: .long, help: "How long to listen, in seconds.")
        var seconds: Double = 30

        @Option(name: .customLong("data-dir"), help: "Folder whose bluetooth/bonds.json keeps pairing keys (default: fhir-edge-demo-data).")
        var dataDir: String = "fhir-edge-demo-data"

        @Flag(name: .long, help: "Pair (or re-encrypt with the bond) before subscribing, even if the device does not ask.")
        var requirePairing = false

        @Flag(name: .long, help: "Accept LE legacy pairing from a device without Secure Connections.")
        var allowLegacyPairing = false

        @Option(name: .long, help: "Give up each connection attempt after this many seconds.")
        var connectTimeout: Double = 10

        @Flag(name: .long, help: "One JSON device message per line.")
        var json = false

        func validate() throws {
            guard BluetoothAddress(address) != nil else { throw ValidationError("'\(address)' is not an address like F0:00:00:00:18:0D") }
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be between 0 and 86400") }
            guard connectTimeout > 0, connectTimeout <= 300 else { throw ValidationError("--connect-timeout must be between 0 and 300 seconds") }
        }

        func run() async throws {
            guard let device = BluetoothAddress(address) else { throw ExitCode(2) }
            let host: BluetoothHost
            do {
                host = try await BluetoothHost.open(try transport.address(), configuration: BluetoothListening.hostConfiguration)
            } catch let error as ValidationError {
                throw error
            } catch {
                StandardStream.error.write("fhir-edge ble listen: \(error)\n")
                throw ExitCode(1)
            }
            let outcome = await BluetoothListening.listen(
                to: device, host: host, dataDirectory: dataDir, seconds: seconds,
                settings: DeviceSessionSettings(
                    address: device, requiresPairing: requirePairing, connectTimeout: .milliseconds(Int64(connectTimeout * 1000))),
                pairing: PairingPolicy(allowLegacyPairing: allowLegacyPairing),
                print: { reading in
                    let line = json ? JSONWriter().string(reading.message) : BluetoothListening.line(reading)
                    StandardStream.output.write((line + "\n"))
                },
                report: { StandardStream.error.write(("fhir-edge ble listen: " + $0 + "\n")) })
            await host.close()
            if !outcome.subscribed { throw ExitCode(1) }
        }
    }
}

/// What `ble listen` does once the host is open: scan for the device's advert, run one device
/// session for a while, print what it reads.
enum BluetoothListening {
    struct Outcome {
        var subscribed: Bool
        var readings: Int
    }

    static var hostConfiguration: HostConfiguration {
        var configuration = HostConfiguration()
        configuration.handlesSecurity = true
        return configuration
    }

    static func listen(
        to device: BluetoothAddress, host: BluetoothHost, dataDirectory: String, seconds: Double, settings: DeviceSessionSettings,
        pairing: PairingPolicy,
        print: @escaping @Sendable (DeviceReading) -> Void, report: @escaping @Sendable (String) -> Void
    ) async -> Outcome {
        let sightings = AdvertSightings()
        let reports: AsyncStream<ScanReport>
        do {
            // Duplicates on: a cuff's adverts are how it says it has a reading, and the scan also
            // tells the address type the connection needs.
            reports = try await host.startScan(ScanOptions(active: false, filterDuplicates: false))
        } catch {
            report("cannot scan: \(error)")
            return Outcome(subscribed: false, readings: 0)
        }
        let counts = Locked((subscribed: false, readings: 0))
        let session = DeviceSession(
            settings: settings,
            link: HostDeviceLink(
                host: host, address: device, sightings: sightings, bonds: BondStore(dataDirectory: dataDirectory), pairing: pairing),
            seed: UInt64.random(in: 0...UInt64.max), now: Gateway.systemClock,
            deliver: { reading in
                counts.withLock { $0.readings += 1 }
                print(reading)
            },
            observe: { observation in
                switch observation {
                case .up(let subscribed):
                    counts.withLock { $0.subscribed = true }
                    report("subscribed to \(subscribed.map(\.characteristic.name).joined(separator: ", ")) on \(device)")
                case .failure(let failure):
                    report("\(device): \(failure)")
                case .disconnected(let reason):
                    report("\(device) disconnected (\(DisconnectReason.name(reason)))")
                }
            })
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await advert in reports where advert.address.value == device.value {
                    await sightings.record(advert, at: Gateway.systemClock())
                }
            }
            group.addTask { await session.run() }
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            // Cancelling ends the session (it disconnects); stopping the scan ends the reports.
            group.cancelAll()
            try? await host.stopScan()
        }
        let final = counts.withLock { $0 }
        return Outcome(subscribed: final.subscribed, readings: final.readings)
    }

    /// `08:30:00.000Z heartRateMeasurement heartRate=72 /min (receiver time)`.
    static func line(_ reading: DeviceReading) -> String {
        var fields: [String] = []
        let message = reading.message
        if case .object(let object) = message {
            if case .string(let time)? = object["time"] { fields.append(time) }
            fields.append(reading.reading.characteristic.key)
            for value in reading.reading.values {
                // As the message writes it: exact decimals, special values named.
                let number = object["values"]?[value.name].map { JSONWriter().string($0) }
                    ?? object["unavailable"]?[value.name]?.stringValue ?? "?"
                fields.append("\(value.name)=\(number) \(value.unit)")
            }
            if case .string(let source)? = object["timeSource"] { fields.append("(\(source) time)") }
        }
        return fields.joined(separator: "  ")
    }
}
