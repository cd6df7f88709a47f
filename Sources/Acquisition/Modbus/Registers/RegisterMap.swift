/// One named value of a device: where it lives and how to read it.
package struct RegisterPoint: Sendable, Hashable {
    /// The member name in the device message's `points` object (what the templates read).
    package var name: String
    package var table: ModbusTable
    /// 0-based PDU address, exactly as sent on the wire.
    package var address: UInt16
    package var type: RegisterValueType
    package var order: ByteOrder
    /// Engineering value = raw × scale + offset.
    package var scale: Double
    package var offset: Double
    /// UCUM unit of the engineering value, for documentation.
    package var unit: String?

    package init(
        name: String, table: ModbusTable, address: UInt16, type: RegisterValueType, order: ByteOrder = .abcd,
        scale: Double = 1, offset: Double = 0, unit: String? = nil
    ) {
        self.name = name
        self.table = table
        self.address = address
        self.type = type
        self.order = order
        self.scale = scale
        self.offset = offset
        self.unit = unit
    }

    /// Registers (or bits, on coil tables) the point covers.
    package var span: Int { table.holdsWords ? type.registerCount : 1 }

    /// Why this point cannot be read as described, or nil.
    package var problem: String? {
        if table.holdsWords, type.isTableBit {
            return "type bit on a register table needs the bit number: bit[0] … bit[15]"
        }
        if !table.holdsWords, !type.isTableBit {
            return "\(table.rawValue) holds bits: use type bit (or bool)"
        }
        if Int(address) + span > 65_536 { return "address \(address) + \(span) register(s) runs past 65535" }
        if !scale.isFinite || !offset.isFinite { return "scale and offset must be finite numbers" }
        return nil
    }
}

/// How a device is polled; profiles give defaults, the gateway configuration overrides per device.
package struct ModbusPollSettings: Sendable, Hashable {
    /// Unit (slave) id, 0 … 247 (255 for TCP devices that ignore it).
    package var unit: UInt8
    package var interval: Duration
    /// Response timeout of one request.
    package var timeout: Duration
    /// Pause between two requests to this device (for devices that need it).
    package var interRequestDelay: Duration
    /// Registers per request, at most 125 (some devices take fewer).
    package var maxRegistersPerRequest: Int
    /// Coils or discrete inputs per request, at most 2000.
    package var maxBitsPerRequest: Int
    /// Unused registers a merged request may read between two points: fewer requests, but a
    /// device whose map has holes answers "illegal data address" when a request spans one.
    package var maxGap: Int
    /// Extra attempts of a failed request while the device is healthy; a device already down
    /// gets one attempt per poll, so that it costs at most one timeout on a shared bus.
    package var retries: Int
    /// Merge neighbouring points into one request (off: one request per point).
    package var mergesRequests: Bool

    package init(
        unit: UInt8 = 1, interval: Duration = .seconds(10), timeout: Duration = .milliseconds(500),
        interRequestDelay: Duration = .zero, maxRegistersPerRequest: Int = 125, maxBitsPerRequest: Int = 2000,
        maxGap: Int = 0, retries: Int = 1, mergesRequests: Bool = true
    ) {
        self.unit = unit
        self.interval = interval
        self.timeout = timeout
        self.interRequestDelay = interRequestDelay
        self.maxRegistersPerRequest = maxRegistersPerRequest
        self.maxBitsPerRequest = maxBitsPerRequest
        self.maxGap = maxGap
        self.retries = retries
        self.mergesRequests = mergesRequests
    }

    package static let registerLimit = 125
    package static let bitLimit = 2000
}

/// A device model's points and its default poll settings (the `modbus:` section of a profile).
package struct RegisterMap: Sendable, Hashable {
    package var points: [RegisterPoint]
    package var settings: ModbusPollSettings

    package init(points: [RegisterPoint], settings: ModbusPollSettings = ModbusPollSettings()) {
        self.points = points
        self.settings = settings
    }
}
