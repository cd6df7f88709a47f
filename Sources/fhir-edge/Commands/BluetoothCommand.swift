import ArgumentParser
import Bluetooth
import BluetoothDecoding
import EdgeCore
import EdgeSystem
import FoundationEssentials
import JSONQuery

struct BluetoothCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ble",
        abstract: "Bluetooth LE: scan for devices, dump a device's GATT database.",
        discussion: """
            The gateway runs its own Bluetooth LE host stack over a controller it owns. --transport \
            names the controller: hci:N (the kernel's HCI user channel on hciN; needs CAP_NET_ADMIN \
            and the adapter down for the kernel: `hciconfig hciN down`, bluetoothd not managing it), \
            uart:/dev/ttyX[:BAUD] (an H4 UART controller, RTS/CTS on; add :noflow to turn it off), \
            or tcp:HOST:PORT (an H4 bridge such as the test rig).
            """,
        subcommands: [Scan.self, GATTDump.self, Listen.self, Pair.self])
}

/// `--transport`, shared by the `ble` subcommands.
struct BluetoothTransportOptions: ParsableArguments {
    @Option(name: .long, help: "The controller: hci:N, uart:/dev/ttyX[:BAUD], or tcp:HOST:PORT.")
    var transport: String

    func address() throws -> TransportAddress {
        do {
            return try TransportAddress(parsing: transport)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Opens the transport and starts a host on it, or exits 1 with the reason on stderr.
    func openHost() async throws -> BluetoothHost {
        let address = try address()
        do {
            return try await BluetoothHost.open(address)
        } catch {
            StandardStream.error.write("fhir-edge ble: \(error)\n")
            throw ExitCode(1)
        }
    }
}

extension BluetoothCommand {
    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the advertising devices seen during a scan.",
            discussion: """
                Scans for --seconds (passive by default; --active asks for scan responses) with \
                duplicate filtering off, then prints each device once: address, address type, name, \
                RSSI (the latest), connectable, advertised services, and decoded BTHome values when \
                the device sends them. With --json, one JSON object per line per device.
                """)

        @OptionGroup var transport: BluetoothTransportOptions

        @Option(name: .long, help: "How long to scan, in seconds.")
        var seconds: Double = 5

        @Flag(name: .long, help: "Active scanning: send scan requests and merge the scan responses.")
        var active = false

        @Option(name: .long, parsing: .upToNextOption, help: "Only these addresses (AA:BB:CC:DD:EE:FF).")
        var only: [String] = []

        @Flag(name: .long, help: "One JSON object per line per device.")
        var json = false

        func validate() throws {
            guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds must be between 0 and 3600") }
            for address in only where BluetoothAddress(address) == nil {
                throw ValidationError("--only: '\(address)' is not an address like F0:00:00:00:18:0D")
            }
        }

        func run() async throws {
            let host = try await transport.openHost()
            var allowList = Set<BluetoothAddress>()
            for text in only {
                // The type is not known before the advert: allow both.
                if let random = BluetoothAddress(text, type: .random) { allowList.insert(random) }
                if let publicAddress = BluetoothAddress(text, type: .public) { allowList.insert(publicAddress) }
            }
            let devices: ScannedDevices
            do {
                let stream = try await host.startScan(ScanOptions(active: active, filterDuplicates: false, allowList: allowList))
                let collector = Task {
                    var devices = ScannedDevices()
                    for await report in stream { devices.add(report) }
                    return devices
                }
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                try await host.stopScan()
                devices = await collector.value
            } catch {
                await host.close()
                StandardStream.error.write("fhir-edge ble scan: \(error)\n")
                throw ExitCode(1)
            }
            await host.close()
            for device in devices.all {
                if json {
                    print(JSONWriter().string(device.json))
                } else {
                    print(Self.line(device))
                }
            }
        }

        static func line(_ device: ScannedDevice) -> String {
            var fields = ["\(device.address) (\(device.address.type))", device.rssi.map { "\($0) dBm" } ?? "- dBm",
                          device.name.map { "\"\($0)\"" } ?? "(no name)"]
            if !device.services.isEmpty { fields.append("services " + device.services.map(\.description).joined(separator: ",")) }
            if !device.connectable { fields.append("not connectable") }
            if let bthome = device.bthome {
                let values = bthome.measurements.map { measurement -> String in
                    switch measurement.value {
                    case .number(let number): "\(measurement.name)=\(number.doubleValue.map { "\($0)" } ?? number.description)\(measurement.unit ?? "")"
                    case .text(let text): "\(measurement.name)=\(text)"
                    case .bytes(let bytes): "\(measurement.name)=\(bytes.count) bytes"
                    case .time(let time): "\(measurement.name)=\(time.iso8601)"
                    }
                }
                fields.append("BTHome " + values.joined(separator: " "))
            }
            return fields.joined(separator: "  ")
        }
    }

    struct GATTDump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gatt-dump",
            abstract: "Connect to a device and print its services, characteristics, descriptors and readable values.",
            discussion: """
                Connects (the address type is random unless --public), exchanges the MTU, discovers \
                every primary service with its characteristics and descriptors, reads each readable \
                characteristic, then disconnects. A read the device refuses (e.g. insufficient \
                encryption before pairing) is shown with its ATT error.
                """)

        @Argument(help: "The device address, e.g. F0:00:00:00:18:0D.")
        var address: String

        @OptionGroup var transport: BluetoothTransportOptions

        @Flag(name: .long, help: "The address is a public one (default: random).")
        var `public` = false

        @Option(name: .long, help: "Give up connecting after this many seconds.")
        var timeout: Double = 10

        @Flag(name: .long, help: "Print one JSON document.")
        var json = false

        func validate() throws {
            guard BluetoothAddress(address) != nil else { throw ValidationError("'\(address)' is not an address like F0:00:00:00:18:0D") }
            guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be between 0 and 300 seconds") }
        }

        func run() async throws {
            guard let peer = BluetoothAddress(address, type: self.public ? .public : .random) else { throw ExitCode(2) }
            let host = try await transport.openHost()
            let dump: Dump
            do {
                let connection = try await host.connect(to: peer, timeout: .milliseconds(Int(timeout * 1000)))
                dump = try await Dump.collect(connection)
                await connection.disconnect()
            } catch {
                await host.close()
                StandardStream.error.write("fhir-edge ble gatt-dump: \(error)\n")
                throw ExitCode(1)
            }
            await host.close()
            print(json ? JSONWriter(options: [.pretty]).string(dump.json) : dump.text)
        }
    }
}

/// A device's GATT database with the values of its readable characteristics.
struct Dump {
    struct Entry {
        var characteristic: GATTCharacteristic
        var value: [UInt8]?
        var readError: String?

        var hex: String? { value.map { Hex.string($0) } }

        /// The value as text when it is printable ASCII of a few characters (DIS strings, names).
        var text: String? {
            guard let value, value.count >= 3, value.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
            return String(decoding: value, as: UTF8.self)
        }
    }

    var peer: BluetoothAddress
    var mtu: Int
    var services: [(service: GATTService, entries: [Entry])]

    static func collect(_ connection: GATTConnection) async throws -> Dump {
        let mtu = try await connection.exchangeMTU()
        var services: [(GATTService, [Entry])] = []
        for service in try await connection.discoverAll() {
            var entries: [Entry] = []
            for characteristic in service.characteristics {
                var entry = Entry(characteristic: characteristic)
                if characteristic.properties.contains(.read) {
                    do {
                        entry.value = try await connection.read(characteristic.valueHandle)
                    } catch let error as BluetoothError {
                        guard case .att = error.kind else { throw error }
                        entry.readError = error.message
                    }
                }
                entries.append(entry)
            }
            services.append((service, entries))
        }
        return Dump(peer: connection.peer, mtu: mtu, services: services)
    }

    var json: JSONValue {
        let serviceList: [JSONValue] = services.map { service, entries in
            let characteristics: [JSONValue] = entries.map { entry in
                let characteristic = entry.characteristic
                var object = JSONObject()
                object["uuid"] = .string(characteristic.uuid.description)
                object["declarationHandle"] = .int(Int64(characteristic.declarationHandle))
                object["valueHandle"] = .int(Int64(characteristic.valueHandle))
                object["properties"] = .array(characteristic.properties.names.map(JSONValue.string))
                object["descriptors"] = .array(characteristic.descriptors.map { descriptor in
                    .object(JSONObject([("uuid", .string(descriptor.uuid.description)), ("handle", .int(Int64(descriptor.handle)))]))
                })
                if let hex = entry.hex { object["value"] = .string(hex) }
                if let text = entry.text { object["text"] = .string(text) }
                if let readError = entry.readError { object["readError"] = .string(readError) }
                return .object(object)
            }
            return .object(JSONObject([
                ("uuid", .string(service.uuid.description)), ("startHandle", .int(Int64(service.startHandle))),
                ("endHandle", .int(Int64(service.endHandle))), ("characteristics", .array(characteristics)),
            ]))
        }
        return .object(JSONObject([
            ("address", .string(peer.description)), ("addressType", .string(peer.type.description)),
            ("mtu", .int(Int64(mtu))), ("services", .array(serviceList)),
        ]))
    }

    var text: String {
        var lines = ["\(peer) (\(peer.type)), ATT MTU \(mtu)"]
        for (service, entries) in services {
            lines.append("service \(service.uuid) handles \(service.startHandle)-\(service.endHandle)")
            for entry in entries {
                let characteristic = entry.characteristic
                var line = "  characteristic \(characteristic.uuid) value handle \(characteristic.valueHandle) [\(characteristic.properties)]"
                if let hex = entry.hex { line += " = \(hex)" + (entry.text.map { " \"\($0)\"" } ?? "") }
                if let readError = entry.readError { line += " (\(readError))" }
                lines.append(line)
                for descriptor in characteristic.descriptors {
                    lines.append("    descriptor \(descriptor.uuid) handle \(descriptor.handle)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
