import EdgeCore
import YAML
package import Bluetooth

extension GatewayConfiguration {
    /// The `bluetooth:` section: the controller to use and the devices to read. Only listed
    /// devices are connected to or read from; every other advert is ignored.
    ///
    /// ```yaml
    /// bluetooth:
    ///   transport: hci:0            # or uart:/dev/ttyUSB0:1000000, tcp:127.0.0.1:9000
    ///   scanning: passive           # or active (asks for scan responses)
    ///   reconnect: {base: 1s, cap: 30s}
    ///   connectTimeout: 10s
    ///   devices:                    # connected, subscribed to every standard measurement
    ///     "F0:00:00:00:18:10": {profile: ble-blood-pressure, requirePairing: true, repairWhenKeyMissing: true, patientId: p-17}
    ///     "F0:00:00:00:18:09": {profile: ble-thermometer, clockTolerance: 2m}   # default 60s
    ///   bthome:                     # read from adverts, never connected
    ///     "F0:00:00:00:FC:D2": {profile: ble-bthome, bindKey: 231d39c1d7cc1ab1aee224cd096db932}
    /// ```
    package struct Bluetooth: Sendable, Equatable {
        package enum Scanning: String, Sendable, Equatable, CaseIterable {
            case passive, active
        }

        /// `hci:N`, `uart:/dev/ttyX[:BAUD]` or `tcp:HOST:PORT`.
        package var transport: TransportAddress
        package var scanning: Scanning
        /// The wait before reconnecting after the first failure, doubled per failure up to `reconnectCap`.
        package var reconnectBase: Duration
        package var reconnectCap: Duration
        /// How long one connection attempt waits for the device.
        package var connectTimeout: Duration
        /// Devices connected to, by address (upper-case `AA:BB:CC:DD:EE:FF`), sorted.
        package var devices: [Device]
        /// BTHome sensors read from their adverts, sorted by address.
        package var bthome: [Sensor]

        package init(
            transport: TransportAddress, scanning: Scanning = .passive, reconnectBase: Duration = .seconds(1),
            reconnectCap: Duration = .seconds(30), connectTimeout: Duration = .seconds(10),
            devices: [Device] = [], bthome: [Sensor] = []
        ) {
            self.transport = transport
            self.scanning = scanning
            self.reconnectBase = reconnectBase
            self.reconnectCap = reconnectCap
            self.connectTimeout = connectTimeout
            self.devices = devices
            self.bthome = bthome
        }

        package struct Device: Sendable, Equatable {
            package var address: String
            /// The device profile whose templates read its messages (`ble-heart-rate`, ...).
            package var profile: String
            /// Pair and bond (or re-encrypt with the bond) before subscribing.
            package var requirePairing: Bool
            /// Accept LE legacy pairing (weaker than Secure Connections) from this device.
            package var allowLegacyPairing: Bool
            /// When the device lost its bond (reset, re-paired elsewhere), pair again and keep the new
            /// bond (journaled); otherwise the device stays down until `fhir-edge ble pair`.
            package var repairWhenKeyMissing: Bool
            /// The patient the device is assigned to, written into its messages as `patientId`.
            package var patientID: String?
            /// How far, in whole seconds either way, the device's clock (its Current Time, read on
            /// connect) may be from the gateway's before device-timed readings are corrected.
            package var clockToleranceSeconds: Int

            package init(
                address: String, profile: String, requirePairing: Bool = false, allowLegacyPairing: Bool = false,
                repairWhenKeyMissing: Bool = false, patientID: String? = nil, clockToleranceSeconds: Int = 60
            ) {
                self.clockToleranceSeconds = clockToleranceSeconds
                self.address = address
                self.profile = profile
                self.requirePairing = requirePairing
                self.allowLegacyPairing = allowLegacyPairing
                self.repairWhenKeyMissing = repairWhenKeyMissing
                self.patientID = patientID
            }
        }

        package struct Sensor: Sendable, Equatable {
            package var address: String
            package var profile: String
            /// The patient the sensor is assigned to, written into its messages as `patientId`.
            package var patientID: String?
            /// The 16-byte AES key of a sensor that encrypts its adverts (never logged).
            package var bindKey: [UInt8]?

            package init(address: String, profile: String = "ble-bthome", patientID: String? = nil, bindKey: [UInt8]? = nil) {
                self.address = address
                self.profile = profile
                self.patientID = patientID
                self.bindKey = bindKey
            }
        }

        /// Every profile the section names, for the check against the profile catalog.
        package var profileReferences: [(keyPath: String, profile: String)] {
            devices.map { ("bluetooth.devices.\($0.address).profile", $0.profile) }
                + bthome.map { ("bluetooth.bthome.\($0.address).profile", $0.profile) }
        }
    }
}

extension ConfigurationDecoder {
    static func decodeBluetooth(_ node: YAMLNode?, reader: inout YAMLNodeReader) -> GatewayConfiguration.Bluetooth? {
        guard let node else { return nil }
        let keys: Set<String> = ["transport", "scanning", "reconnect", "connectTimeout", "devices", "bthome"]
        guard let section = reader.mapping(node, at: "bluetooth", known: keys) else { return nil }
        var transport: TransportAddress?
        if let node = section["transport"], let text = reader.string(node, at: "bluetooth.transport") {
            do {
                transport = try TransportAddress(parsing: text)
            } catch {
                reader.problem("bluetooth.transport", node, "\(error)")
            }
        } else if section["transport"] == nil {
            reader.problem("bluetooth.transport", node, "missing; name the controller: hci:0, uart:/dev/ttyUSB0:1000000 or tcp:HOST:PORT")
        }
        var bluetooth = GatewayConfiguration.Bluetooth(transport: transport ?? .userChannel(adapter: 0))
        if let node = section["scanning"], let text = reader.string(node, at: "bluetooth.scanning") {
            if let scanning = GatewayConfiguration.Bluetooth.Scanning(rawValue: text) {
                bluetooth.scanning = scanning
            } else {
                reader.problem("bluetooth.scanning", node, "expected passive or active")
            }
        }
        if let node = section["reconnect"], let reconnect = reader.mapping(node, at: "bluetooth.reconnect", known: ["base", "cap"]) {
            if let node = reconnect["base"], let ms = reader.duration(node, at: "bluetooth.reconnect.base") {
                bluetooth.reconnectBase = .milliseconds(ms)
            }
            if let node = reconnect["cap"], let ms = reader.duration(node, at: "bluetooth.reconnect.cap") {
                bluetooth.reconnectCap = .milliseconds(ms)
            }
            if bluetooth.reconnectCap < bluetooth.reconnectBase {
                reader.problem("bluetooth.reconnect.cap", reconnect["cap"] ?? node, "must not be shorter than bluetooth.reconnect.base")
            }
        }
        if let node = section["connectTimeout"], let ms = reader.duration(node, at: "bluetooth.connectTimeout") {
            bluetooth.connectTimeout = .milliseconds(ms)
        }
        var seen: [String: String] = [:]
        if let node = section["devices"], let named = reader.namedMapping(node, at: "bluetooth.devices") {
            for (name, value) in named {
                let path = "bluetooth.devices." + name
                guard let address = address(name, node: value, at: path, seen: &seen, reader: &reader) else { continue }
                let known: Set<String> = ["profile", "requirePairing", "allowLegacyPairing", "repairWhenKeyMissing", "patientId", "clockTolerance"]
                guard let fields = reader.mapping(value, at: path, known: known) else { continue }
                var profile: String?
                if let node = fields["profile"] {
                    profile = reader.string(node, at: path + ".profile")
                } else {
                    reader.problem(path + ".profile", value, "missing; name the device profile, e.g. ble-heart-rate")
                }
                var device = GatewayConfiguration.Bluetooth.Device(address: address, profile: profile ?? "")
                if let node = fields["requirePairing"], let flag = reader.bool(node, at: path + ".requirePairing") {
                    device.requirePairing = flag
                }
                if let node = fields["allowLegacyPairing"], let flag = reader.bool(node, at: path + ".allowLegacyPairing") {
                    device.allowLegacyPairing = flag
                }
                if let node = fields["repairWhenKeyMissing"], let flag = reader.bool(node, at: path + ".repairWhenKeyMissing") {
                    device.repairWhenKeyMissing = flag
                }
                if let node = fields["patientId"] { device.patientID = reader.string(node, at: path + ".patientId") }
                if let node = fields["clockTolerance"], let ms = reader.duration(node, at: path + ".clockTolerance") {
                    if ms % 1000 == 0, ms <= 86_400_000 {
                        device.clockToleranceSeconds = Int(ms / 1000)
                    } else {
                        reader.problem(path + ".clockTolerance", node, "expected whole seconds up to 24h, e.g. 60s or 2m")
                    }
                }
                if profile != nil { bluetooth.devices.append(device) }
            }
        }
        if let node = section["bthome"], let named = reader.namedMapping(node, at: "bluetooth.bthome") {
            for (name, value) in named {
                let path = "bluetooth.bthome." + name
                guard let address = address(name, node: value, at: path, seen: &seen, reader: &reader) else { continue }
                var sensor = GatewayConfiguration.Bluetooth.Sensor(address: address)
                // `ADDRESS: {}` or `ADDRESS:` alone take the ble-bthome profile.
                if case .scalar(let scalar) = value, scalar.style == .plain, ["", "~", "null"].contains(scalar.string) {
                    bluetooth.bthome.append(sensor)
                    continue
                }
                guard let fields = reader.mapping(value, at: path, known: ["profile", "patientId", "bindKey"]) else { continue }
                if let node = fields["profile"], let profile = reader.string(node, at: path + ".profile") { sensor.profile = profile }
                if let node = fields["patientId"] { sensor.patientID = reader.string(node, at: path + ".patientId") }
                if let node = fields["bindKey"], let text = reader.string(node, at: path + ".bindKey") {
                    if let key = Hex.bytes(text), key.count == 16 {
                        sensor.bindKey = key
                    } else {
                        reader.problem(path + ".bindKey", node, "expected the sensor's bind key as 32 hexadecimal digits")
                    }
                }
                bluetooth.bthome.append(sensor)
            }
        }
        if section["devices"] == nil, section["bthome"] == nil {
            reader.problem("bluetooth", node, "lists no device; add addresses under bluetooth.devices or bluetooth.bthome (or remove the section)")
        }
        bluetooth.devices.sort { $0.address < $1.address }
        bluetooth.bthome.sort { $0.address < $1.address }
        return transport == nil ? nil : bluetooth
    }

    /// The address a device entry is keyed by, upper-cased; a problem when it is not six hex
    /// octets or names a device already listed.
    private static func address(
        _ name: String, node: YAMLNode, at path: String, seen: inout [String: String], reader: inout YAMLNodeReader
    ) -> String? {
        guard let address = BluetoothAddress(name)?.description else {
            reader.problem(path, node, "expected a device address like F0:00:00:00:18:0D (six hexadecimal octets)")
            return nil
        }
        if let earlier = seen[address] {
            reader.problem(path, node, "the device \(address) is already listed at \(earlier)")
            return nil
        }
        seen[address] = path
        return address
    }
}
