/// The AD structures of an advertising or scan-response payload (Core Specification Supplement
/// part A): the ones a health gateway acts on, parsed; the rest ignored.
package struct AdvertisingData: Hashable, Sendable {
    package struct ServiceData: Hashable, Sendable {
        package let uuid: BluetoothUUID
        package let data: [UInt8]

        package init(uuid: BluetoothUUID, data: [UInt8]) {
            self.uuid = uuid
            self.data = data
        }
    }

    package struct ManufacturerData: Hashable, Sendable {
        /// The Bluetooth SIG company identifier.
        package let companyID: UInt16
        package let data: [UInt8]

        package init(companyID: UInt16, data: [UInt8]) {
            self.companyID = companyID
            self.data = data
        }
    }

    /// AD type 0x01.
    package var flags: UInt8?
    /// The Complete Local Name (0x09), else the Shortened Local Name (0x08).
    package var localName: String?
    package var localNameIsComplete = false
    /// Service UUIDs listed in 0x02...0x07 (complete and incomplete lists), in advert order.
    package var serviceUUIDs: [BluetoothUUID] = []
    /// Service data (0x16, 0x20, 0x21).
    package var serviceData: [ServiceData] = []
    /// Manufacturer specific data (0xFF).
    package var manufacturerData: [ManufacturerData] = []
    /// Appearance (0x19), e.g. 0x0341 heart-rate belt.
    package var appearance: UInt16?
    /// TX Power Level (0x0A) in dBm.
    package var txPower: Int8?

    package init() {}

    /// The data of the first service-data structure for that UUID: BTHome adverts are
    /// `serviceData(for: BluetoothUUID(uuid16: 0xFCD2))`.
    package func serviceData(for uuid: BluetoothUUID) -> [UInt8]? {
        serviceData.first { $0.uuid == uuid }?.data
    }

    /// This advert completed by a scan response: the response's values fill what the advert lacks,
    /// and lists are joined.
    package func merging(_ response: AdvertisingData) -> AdvertisingData {
        var merged = self
        merged.flags = flags ?? response.flags
        if localName == nil || (!localNameIsComplete && response.localNameIsComplete && response.localName != nil) {
            merged.localName = response.localName ?? localName
            merged.localNameIsComplete = response.localName != nil ? response.localNameIsComplete : localNameIsComplete
        }
        merged.serviceUUIDs += response.serviceUUIDs.filter { !serviceUUIDs.contains($0) }
        merged.serviceData += response.serviceData
        merged.manufacturerData += response.manufacturerData
        merged.appearance = appearance ?? response.appearance
        merged.txPower = txPower ?? response.txPower
        return merged
    }

    /// Parses the AD structures. A zero length byte ends the data (padding, as controllers send);
    /// a structure running past the end, or a fixed-size field of the wrong size, is an error.
    package static func parse(_ bytes: [UInt8]) throws(DecodeError) -> AdvertisingData {
        var data = AdvertisingData()
        var offset = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            if length == 0 { break }
            guard offset + 1 + length <= bytes.count else {
                throw DecodeError(
                    subject: "advertising data", field: "AD structure", offset: offset, reason: .malformed,
                    detail: "length \(length) runs past the end (\(bytes.count - offset - 1) bytes left)")
            }
            let type = bytes[offset + 1]
            let value = Array(bytes[(offset + 2)..<(offset + 1 + length)])
            try data.apply(type: type, value: value, at: offset)
            offset += 1 + length
        }
        return data
    }

    private mutating func apply(type: UInt8, value: [UInt8], at offset: Int) throws(DecodeError) {
        func wrongSize(_ field: String, _ expected: String) -> DecodeError {
            DecodeError(
                subject: "advertising data", field: field, offset: offset, reason: .malformed,
                detail: "\(value.count) bytes where \(expected) are expected")
        }
        switch type {
        case 0x01:
            guard value.count >= 1 else { throw wrongSize("Flags", "1") }
            flags = value[0]
        case 0x02, 0x03:
            guard value.count % 2 == 0 else { throw wrongSize("16-bit Service UUIDs", "a multiple of 2") }
            for i in stride(from: 0, to: value.count, by: 2) {
                appendService(BluetoothUUID(uuid16: UInt16(value[i]) | UInt16(value[i + 1]) << 8))
            }
        case 0x04, 0x05:
            guard value.count % 4 == 0 else { throw wrongSize("32-bit Service UUIDs", "a multiple of 4") }
            for i in stride(from: 0, to: value.count, by: 4) { appendService(BluetoothUUID(uuid32: uint32(value, i))) }
        case 0x06, 0x07:
            guard value.count % 16 == 0 else { throw wrongSize("128-bit Service UUIDs", "a multiple of 16") }
            for i in stride(from: 0, to: value.count, by: 16) {
                if let uuid = BluetoothUUID(littleEndian: value[i..<(i + 16)]) { appendService(uuid) }
            }
        case 0x08, 0x09:
            let complete = type == 0x09
            if localName == nil || (complete && !localNameIsComplete) {
                localName = String(decoding: value, as: UTF8.self)
                localNameIsComplete = complete
            }
        case 0x0A:
            guard value.count == 1 else { throw wrongSize("TX Power Level", "1") }
            txPower = Int8(bitPattern: value[0])
        case 0x16:
            guard value.count >= 2 else { throw wrongSize("Service Data (16-bit UUID)", "at least 2") }
            serviceData.append(ServiceData(uuid: BluetoothUUID(uuid16: UInt16(value[0]) | UInt16(value[1]) << 8), data: Array(value[2...])))
        case 0x20:
            guard value.count >= 4 else { throw wrongSize("Service Data (32-bit UUID)", "at least 4") }
            serviceData.append(ServiceData(uuid: BluetoothUUID(uuid32: uint32(value, 0)), data: Array(value[4...])))
        case 0x21:
            guard value.count >= 16, let uuid = BluetoothUUID(littleEndian: value[0..<16]) else {
                throw wrongSize("Service Data (128-bit UUID)", "at least 16")
            }
            serviceData.append(ServiceData(uuid: uuid, data: Array(value[16...])))
        case 0x19:
            guard value.count == 2 else { throw wrongSize("Appearance", "2") }
            appearance = UInt16(value[0]) | UInt16(value[1]) << 8
        case 0xFF:
            guard value.count >= 2 else { throw wrongSize("Manufacturer Specific Data", "at least 2") }
            manufacturerData.append(ManufacturerData(companyID: UInt16(value[0]) | UInt16(value[1]) << 8, data: Array(value[2...])))
        default:
            break
        }
    }

    private mutating func appendService(_ uuid: BluetoothUUID) {
        if !serviceUUIDs.contains(uuid) { serviceUUIDs.append(uuid) }
    }
}

private func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
}
