import EdgeCore
import YAML
package import Modbus

/// The gateway configuration's `modbus:` section: the devices to poll.
///
/// ```yaml
/// modbus:
///   devices:
///     room-101:                         # deviceId of its messages
///       profile: modbus-room-monitor    # a profile folder with a modbus: register map
///       tcp: 192.168.10.21:502          # or rtu: {device: /dev/ttyUSB0, baud: 19200, parity: E}
///       unit: 1                         # overrides of the profile's defaults:
///       interval: 5s                    # interval, timeout, interRequestDelay, retries,
///       patientId: p-17                 # maxRegistersPerRequest, maxGap, merge
/// ```
package struct ModbusSection: Sendable, Equatable {
    package var devices: [Device] = []

    package init(devices: [Device] = []) {
        self.devices = devices
    }

    package struct Device: Sendable, Equatable {
        package var name: String
        package var profile: String
        package var endpoint: ModbusEndpoint
        package var patientID: String?
        package var overrides: ModbusSettingsOverrides

        package init(name: String, profile: String, endpoint: ModbusEndpoint, patientID: String? = nil, overrides: ModbusSettingsOverrides = ModbusSettingsOverrides()) {
            self.name = name
            self.profile = profile
            self.endpoint = endpoint
            self.patientID = patientID
            self.overrides = overrides
        }
    }
}

/// Per-device settings that replace a profile's `modbus.defaults`.
package struct ModbusSettingsOverrides: Sendable, Equatable {
    package var unit: UInt8?
    package var interval: Duration?
    package var timeout: Duration?
    package var interRequestDelay: Duration?
    package var maxRegistersPerRequest: Int?
    package var maxGap: Int?
    package var retries: Int?
    package var mergesRequests: Bool?

    package init() {}

    package func applied(to base: ModbusPollSettings) -> ModbusPollSettings {
        var settings = base
        if let unit { settings.unit = unit }
        if let interval { settings.interval = interval }
        if let timeout { settings.timeout = timeout }
        if let interRequestDelay { settings.interRequestDelay = interRequestDelay }
        if let maxRegistersPerRequest { settings.maxRegistersPerRequest = maxRegistersPerRequest }
        if let maxGap { settings.maxGap = maxGap }
        if let retries { settings.retries = retries }
        if let mergesRequests { settings.mergesRequests = mergesRequests }
        return settings
    }

    static let keys: Set<String> = ["unit", "interval", "timeout", "interRequestDelay", "maxRegistersPerRequest", "maxGap", "retries", "merge"]

    /// Reads the keys of `keys` from `members` (a device entry or a profile's `defaults`).
    static func decode(_ members: [String: YAMLNode], at path: String, reader: inout YAMLNodeReader) -> ModbusSettingsOverrides {
        var overrides = ModbusSettingsOverrides()
        func at(_ key: String) -> String { YAMLNodeReader.join(path, key) }
        if let node = members["unit"], let value = reader.integer(node, at: at("unit"), range: 0...255) { overrides.unit = UInt8(value) }
        if let node = members["interval"], let value = reader.duration(node, at: at("interval")) { overrides.interval = .milliseconds(value) }
        if let node = members["timeout"], let value = reader.duration(node, at: at("timeout")) {
            if value > 60_000 {
                reader.problem(at("timeout"), node, "at most 60s: a request blocks its link for this long")
            } else {
                overrides.timeout = .milliseconds(value)
            }
        }
        if let node = members["interRequestDelay"] {
            if case .scalar(let scalar) = node, scalar.string == "0" {
                overrides.interRequestDelay = .zero
            } else if let value = reader.duration(node, at: at("interRequestDelay")) {
                overrides.interRequestDelay = .milliseconds(value)
            }
        }
        if let node = members["maxRegistersPerRequest"],
           let value = reader.integer(node, at: at("maxRegistersPerRequest"), range: 1...ModbusPollSettings.registerLimit) {
            overrides.maxRegistersPerRequest = value
        }
        if let node = members["maxGap"], let value = reader.integer(node, at: at("maxGap"), range: 0...124) { overrides.maxGap = value }
        if let node = members["retries"], let value = reader.integer(node, at: at("retries"), range: 0...10) { overrides.retries = value }
        if let node = members["merge"], let value = reader.bool(node, at: at("merge")) { overrides.mergesRequests = value }
        return overrides
    }
}

extension ConfigurationDecoder {
    static func decodeModbus(_ node: YAMLNode, reader: inout YAMLNodeReader) -> ModbusSection {
        var section = ModbusSection()
        guard let members = reader.mapping(node, at: "modbus", known: ["devices"]) else { return section }
        guard let devicesNode = members["devices"], let named = reader.namedMapping(devicesNode, at: "modbus.devices") else {
            return section
        }
        var serialLines: [String: ModbusSerialLine] = [:]
        for (name, value) in named {
            let path = "modbus.devices." + name
            let keys = ModbusSettingsOverrides.keys.union(["profile", "tcp", "rtu", "patientId"])
            guard let device = reader.mapping(value, at: path, known: keys) else { continue }
            var profile: String?
            if let node = device["profile"] {
                profile = reader.string(node, at: path + ".profile")
            } else {
                reader.problem(path + ".profile", value, "missing; name the device profile folder whose modbus: section describes the registers")
            }
            var endpoint: ModbusEndpoint?
            switch (device["tcp"], device["rtu"]) {
            case (let tcp?, nil):
                if let text = reader.string(tcp, at: path + ".tcp") {
                    if let address = ListenAddress(parsing: text), address.port > 0, !text.hasPrefix(":") {
                        endpoint = .tcp(host: address.host, port: address.port)
                    } else {
                        reader.problem(path + ".tcp", tcp, "expected HOST:PORT, e.g. 192.168.10.21:502")
                    }
                }
            case (nil, let rtu?):
                if let line = decodeSerialLine(rtu, at: path + ".rtu", reader: &reader) {
                    if let known = serialLines[line.device], known != line {
                        reader.problem(path + ".rtu", rtu, "\(line.device) is already configured as \(known); devices on one bus share its settings")
                    } else {
                        serialLines[line.device] = line
                        endpoint = .rtu(line)
                    }
                }
            case (nil, nil):
                reader.problem(path, value, "missing tcp: HOST:PORT or rtu: {device, baud, parity}")
            case (_?, _?):
                reader.problem(path, value, "give tcp or rtu, not both")
            }
            var patientID: String?
            if let node = device["patientId"] { patientID = reader.string(node, at: path + ".patientId") }
            let overrides = ModbusSettingsOverrides.decode(device, at: path, reader: &reader)
            if let profile, let endpoint {
                section.devices.append(ModbusSection.Device(name: name, profile: profile, endpoint: endpoint, patientID: patientID, overrides: overrides))
            }
        }
        return section
    }

    static func decodeSerialLine(_ node: YAMLNode, at path: String, reader: inout YAMLNodeReader) -> ModbusSerialLine? {
        guard let members = reader.mapping(node, at: path, known: ["device", "baud", "parity", "dataBits", "stopBits"]) else { return nil }
        var device: String?
        if let node = members["device"] {
            device = reader.string(node, at: path + ".device")
        } else {
            reader.problem(path + ".device", node, "missing; the serial device, e.g. /dev/ttyUSB0")
        }
        var line = ModbusSerialLine(device: device ?? "", baud: 19200)
        if let node = members["baud"], let baud = reader.integer(node, at: path + ".baud", range: 300...4_000_000) { line.baud = baud }
        if let node = members["parity"], let text = reader.string(node, at: path + ".parity") {
            if let parity = ModbusSerialLine.Parity(rawValue: text.uppercased()) {
                line.parity = parity
            } else {
                reader.problem(path + ".parity", node, "expected N, E or O")
            }
        }
        if let node = members["dataBits"], let bits = reader.integer(node, at: path + ".dataBits", range: 5...8) { line.dataBits = bits }
        if let node = members["stopBits"], let bits = reader.integer(node, at: path + ".stopBits", range: 1...2) { line.stopBits = bits }
        guard device != nil else { return nil }
        // Settings libmodbus would silently replace (an unknown baud becomes 9600) are refused.
        if let problem = line.problem {
            reader.problem(path, node, problem)
            return nil
        }
        return line
    }
}

/// A profile's `modbus:` section: the register map and the device model's default poll settings.
///
/// ```yaml
/// modbus:
///   # Addresses are 0-based PDU addresses, as sent on the wire. A manual that numbers registers
///   # 40001… (holding), 30001… (input), 10001… (discrete), 1… (coil) needs addressBase: modicon;
///   # one that counts from 1 needs addressBase: 1.
///   defaults: {unit: 1, interval: 10s, timeout: 500ms, interRequestDelay: 0, maxRegistersPerRequest: 125, maxGap: 0, retries: 1}
///   points:
///     - {name: temperature, table: input, address: 1, type: int16, scale: 0.1, unit: Cel}
///     - {name: o2_pressure, table: holding, address: 100, type: float32, byteOrder: ABCD, unit: bar}
/// ```
enum ModbusProfileSection {
    static func decode(_ node: YAMLNode, at path: String, reader: inout YAMLNodeReader) -> RegisterMap? {
        guard let members = reader.mapping(node, at: path, known: ["addressBase", "defaults", "points"]) else { return nil }
        var base = AddressBase.pdu
        if let node = members["addressBase"] {
            if case .scalar(let scalar) = node, let parsed = AddressBase(parsing: scalar.string) {
                base = parsed
            } else {
                reader.problem(path + ".addressBase", node, "expected 0 (PDU addresses, the default), 1 (1-based) or modicon (40001 = holding 0)")
            }
        }
        var settings = ModbusPollSettings()
        if let node = members["defaults"],
           let defaults = reader.mapping(node, at: path + ".defaults", known: ModbusSettingsOverrides.keys) {
            settings = ModbusSettingsOverrides.decode(defaults, at: path + ".defaults", reader: &reader).applied(to: settings)
        }
        guard let pointsNode = members["points"] else {
            reader.problem(path + ".points", node, "missing; list the registers to read")
            return nil
        }
        guard let items = reader.sequence(pointsNode, at: path + ".points") else { return nil }
        var points: [RegisterPoint] = []
        var names = Set<String>()
        for (index, item) in items.enumerated() {
            let itemPath = "\(path).points[\(index)]"
            guard let point = decodePoint(item, at: itemPath, base: base, explicitBase: members["addressBase"] != nil, reader: &reader) else { continue }
            guard names.insert(point.name).inserted else {
                reader.problem(itemPath + ".name", item, "duplicate point name \(point.name)")
                continue
            }
            let limit = point.table.holdsWords ? settings.maxRegistersPerRequest : settings.maxBitsPerRequest
            if point.span > limit {
                reader.problem(itemPath + ".type", item, "\(point.type) spans \(point.span) registers, more than maxRegistersPerRequest \(limit)")
                continue
            }
            points.append(point)
        }
        if items.isEmpty { reader.problem(path + ".points", pointsNode, "empty; list the registers to read") }
        return RegisterMap(points: points, settings: settings)
    }

    enum AddressBase: Equatable {
        case pdu, oneBased, modicon

        init?(parsing text: String) {
            switch text.lowercased() {
            case "0": self = .pdu
            case "1": self = .oneBased
            case "modicon": self = .modicon
            default: return nil
            }
        }

        func offset(for table: ModbusTable) -> Int {
            switch self {
            case .pdu: 0
            case .oneBased: 1
            case .modicon:
                switch table {
                case .holding: 40001
                case .input: 30001
                case .discrete: 10001
                case .coil: 1
                }
            }
        }
    }

    static func decodePoint(_ node: YAMLNode, at path: String, base: AddressBase, explicitBase: Bool, reader: inout YAMLNodeReader) -> RegisterPoint? {
        let keys: Set<String> = ["name", "table", "address", "type", "byteOrder", "scale", "offset", "unit", "length"]
        guard let members = reader.mapping(node, at: path, known: keys) else { return nil }
        func required(_ key: String) -> YAMLNode? {
            if let node = members[key] { return node }
            reader.problem(path + "." + key, node, "missing")
            return nil
        }
        let name = required("name").flatMap { reader.string($0, at: path + ".name") }
        var table: ModbusTable?
        if let node = required("table"), let text = reader.string(node, at: path + ".table") {
            table = ModbusTable(rawValue: text)
            if table == nil { reader.problem(path + ".table", node, "expected holding, input, coil or discrete") }
        }
        var type: RegisterValueType? = table.map { $0.holdsWords ? .uint16 : .bit(index: nil) }
        if let node = members["type"], let text = reader.string(node, at: path + ".type") {
            type = RegisterValueType(parsing: text)
            if type == nil {
                reader.problem(path + ".type", node, "expected int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bit[N] or bit")
            }
        }
        if let node = members["length"], let length = reader.integer(node, at: path + ".length", range: 1...125) {
            if case .string = type { type = .string(registers: length) } else {
                reader.problem(path + ".length", node, "length (in registers) applies to type string only")
            }
        }
        var order = ByteOrder.abcd
        if let node = members["byteOrder"], let text = reader.string(node, at: path + ".byteOrder") {
            if let parsed = ByteOrder(parsing: text) { order = parsed } else {
                reader.problem(path + ".byteOrder", node, "expected AB, BA, ABCD, DCBA, BADC, CDAB, ABCDEFGH, HGFEDCBA, BADCFEHG or GHEFCDAB")
            }
        }
        func number(_ key: String) -> Double? {
            guard let node = members[key] else { return nil }
            guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
                reader.problem(path + "." + key, node, "expected a number")
                return nil
            }
            return value
        }
        let scale = number("scale") ?? 1
        let offset = number("offset") ?? 0
        if scale == 0 { reader.problem(path + ".scale", members["scale"], "0 would make every value 0") }
        var unit: String?
        if let node = members["unit"] { unit = reader.string(node, at: path + ".unit") }
        var address: UInt16?
        if let node = required("address"), let number = reader.integer(node, at: path + ".address", range: 0...499_999), let table {
            let pdu = number - base.offset(for: table)
            if !explicitBase, Self.looksModicon(number, table: table) {
                reader.problem(path + ".address", node,
                    "\(number) looks like a 1-based register number (40001 = holding 0); give the 0-based PDU address, or set addressBase: modicon (or 1)")
            } else if pdu < 0 || pdu > 65_535 {
                reader.problem(path + ".address", node, "\(number) is not a register of the \(table.rawValue) table with addressBase \(base)")
            } else {
                address = UInt16(pdu)
            }
        }
        guard let name, let table, let type, let address else { return nil }
        let point = RegisterPoint(name: name, table: table, address: address, type: type, order: order, scale: scale, offset: offset, unit: unit)
        if let problem = point.problem {
            reader.problem(path, node, problem)
            return nil
        }
        return point
    }

    /// Holding 4xxxx, input 3xxxx and discrete 1xxxx numbers are the Modicon convention, not PDU addresses.
    static func looksModicon(_ number: Int, table: ModbusTable) -> Bool {
        switch table {
        case .holding: (40001...49999).contains(number) || number > 65_535
        case .input: (30001...39999).contains(number) || number > 65_535
        case .discrete: (10001...19999).contains(number) || number > 65_535
        case .coil: number > 65_535
        }
    }
}
