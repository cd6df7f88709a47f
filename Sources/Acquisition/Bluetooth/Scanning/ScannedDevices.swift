package import BluetoothDecoding
import EdgeCore
package import JSONQuery

/// What a scan learned about one advertiser: the advert and scan response merged, the latest
/// RSSI, and the decoded BTHome values when it sends them.
package struct ScannedDevice: Sendable, Equatable {
    package var address: BluetoothAddress
    package var name: String?
    package var rssi: Int?
    package var connectable: Bool
    package var services: [BluetoothUUID]
    package var appearance: UInt16?
    package var txPower: Int?
    package var bthome: BTHomeAdvert?
    /// Why the last BTHome payload or advert could not be decoded, if it could not.
    package var decodeError: String?
    package var reports: Int

    /// One JSON object: address, addressType, name, rssi, connectable, services, and `bthome`
    /// (values and units) when present.
    package var json: JSONValue {
        var object = JSONObject()
        object["address"] = .string(address.description)
        object["addressType"] = .string(address.type.description)
        object["name"] = name.map(JSONValue.string) ?? .null
        object["rssi"] = rssi.map { JSONValue.int(Int64($0)) } ?? .null
        object["connectable"] = .bool(connectable)
        object["services"] = .array(services.map { .string($0.description) })
        if let appearance { object["appearance"] = .int(Int64(appearance)) }
        if let txPower { object["txPower"] = .int(Int64(txPower)) }
        if let bthome, case .object(let message) = bthome.message(deviceID: address.description, receivedAt: .init(millisecondsSinceEpoch: 0)) {
            var values = JSONObject()
            values["values"] = message["values"] ?? .object(JSONObject())
            values["units"] = message["units"] ?? .object(JSONObject())
            if let binary = message["binarySensors"] { values["binarySensors"] = binary }
            if let events = message["events"] { values["events"] = events }
            values["encrypted"] = .bool(bthome.encrypted)
            object["bthome"] = .object(values)
        }
        if let decodeError { object["decodeError"] = .string(decodeError) }
        return .object(object)
    }
}

/// Folds scan reports into one entry per device, in order of first sighting.
package struct ScannedDevices: Sendable {
    private var order: [BluetoothAddress] = []
    private var devices: [BluetoothAddress: ScannedDevice] = [:]

    package init() {}

    package var all: [ScannedDevice] { order.compactMap { devices[$0] } }

    package subscript(address: BluetoothAddress) -> ScannedDevice? { devices[address] }

    /// Adds a report; returns the device as it now stands.
    @discardableResult
    package mutating func add(_ report: ScanReport) -> ScannedDevice {
        var device = devices[report.address] ?? ScannedDevice(
            address: report.address, name: nil, rssi: nil, connectable: false, services: [], appearance: nil, txPower: nil,
            bthome: nil, decodeError: nil, reports: 0)
        if devices[report.address] == nil { order.append(report.address) }
        device.reports += 1
        if let rssi = report.rssi { device.rssi = rssi }
        // A scan response says nothing about connectability; the advert does.
        if !report.isScanResponse { device.connectable = report.connectable }
        if let data = report.advertisingData {
            if let name = data.localName, device.name == nil || data.localNameIsComplete { device.name = name }
            for uuid in data.serviceUUIDs where !device.services.contains(uuid) { device.services.append(uuid) }
            device.appearance = data.appearance ?? device.appearance
            device.txPower = data.txPower.map(Int.init) ?? device.txPower
            if let payload = data.serviceData(for: BluetoothUUID(uuid16: BTHomeDecoder.serviceUUID)) {
                do {
                    device.bthome = try BTHomeDecoder.decode(serviceData: payload)
                    device.decodeError = nil
                } catch {
                    device.decodeError = error.description
                }
            }
        } else if let error = report.decodeError {
            device.decodeError = error
        }
        devices[report.address] = device
        return device
    }
}
