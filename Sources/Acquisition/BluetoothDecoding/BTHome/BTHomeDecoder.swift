import EdgeCore
import EdgeCrypto

/// Decodes BTHome v2 service data (the data of UUID 0xFCD2, starting with the device-information
/// byte), following bthome-ble: a truncated object is dropped and parsing stops at an unknown
/// object id, keeping the objects before it. A wrong version, an encrypted advert without its
/// key, or a failed decryption are errors.
package enum BTHomeDecoder {
    /// The 16-bit service UUID BTHome adverts use.
    package static let serviceUUID: UInt16 = 0xFCD2

    /// - Parameters:
    ///   - bindKey: the device's 16-byte AES key, for encrypted adverts.
    ///   - address: the advertiser's address as written (`54:48:E6:8F:80:A5` is
    ///     `[0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5]`); part of the decryption nonce.
    package static func decode(serviceData: [UInt8], bindKey: [UInt8]? = nil, address: [UInt8]? = nil) throws(DecodeError) -> BTHomeAdvert {
        var reader = ByteReader(serviceData, subject: "BTHome v2")
        let info = try reader.uint8("Device Information")
        let version = info >> 5
        guard version == 2 else {
            throw reader.error("Device Information", .unsupportedVersion, "version \(version), expected 2", at: 0)
        }
        let encrypted = info & 0x01 != 0
        var objects = Array(serviceData.dropFirst())
        if encrypted {
            objects = try decrypt(serviceData, info: info, bindKey: bindKey, address: address)
        }
        var parsed = ObjectParser(objects)
        parsed.run()
        return BTHomeAdvert(
            encrypted: encrypted, triggerBased: info & 0x04 != 0,
            measurements: suffixed(parsed.measurements, name: \.name) { item, name in .init(name: name, value: item.value, unit: item.unit) },
            binarySensors: suffixed(parsed.binarySensors, name: \.name) { item, name in .init(name: name, isOn: item.isOn) },
            events: suffixed(parsed.events, name: \.name) { item, name in .init(name: name, eventType: item.eventType, steps: item.steps) })
    }

    /// Info byte, ciphertext, 4-byte counter, 4-byte MIC; the nonce is address ‖ UUID ‖ info ‖ counter.
    private static func decrypt(_ data: [UInt8], info: UInt8, bindKey: [UInt8]?, address: [UInt8]?) throws(DecodeError) -> [UInt8] {
        guard let bindKey, let address else {
            throw DecodeError(
                subject: "BTHome v2", field: "Device Information", offset: 0, reason: .encrypted,
                detail: "the advert is encrypted: configure the device's bind key to read it")
        }
        guard data.count >= 9 else {
            throw DecodeError(
                subject: "BTHome v2", field: "Encrypted payload", offset: 1, reason: .truncated,
                detail: "needs a counter and a MIC (8 bytes), \(data.count - 1) left")
        }
        guard bindKey.count == 16, address.count == 6, let ccm = AESCCM(key: bindKey) else {
            throw DecodeError(
                subject: "BTHome v2", field: "Encrypted payload", offset: 1, reason: .decryptionFailed,
                detail: "the bind key must be 16 bytes and the address 6")
        }
        let counter = Array(data[(data.count - 8)..<(data.count - 4)])
        let tag = Array(data[(data.count - 4)...])
        let nonce = address + [UInt8(serviceUUID & 0xFF), UInt8(serviceUUID >> 8), info] + counter
        guard let plaintext = ccm.open(ciphertext: Array(data[1..<(data.count - 8)]), tag: tag, nonce: nonce) else {
            throw DecodeError(
                subject: "BTHome v2", field: "Encrypted payload", offset: 1, reason: .decryptionFailed,
                detail: "the MIC does not verify: wrong bind key or altered advert")
        }
        return plaintext
    }

    /// Adds `_1`, `_2`... to every item whose name occurs more than once.
    private static func suffixed<T>(_ items: [T], name: (T) -> String, rename: (T, String) -> T) -> [T] {
        var totals: [String: Int] = [:]
        for item in items { totals[name(item), default: 0] += 1 }
        var seen: [String: Int] = [:]
        return items.map { item in
            let base = name(item)
            guard totals[base, default: 0] > 1 else { return item }
            seen[base, default: 0] += 1
            return rename(item, "\(base)_\(seen[base, default: 0])")
        }
    }
}

/// Walks the object list of a (decrypted) BTHome payload.
private struct ObjectParser {
    var reader: ByteReader
    var measurements: [BTHomeAdvert.Measurement] = []
    var binarySensors: [BTHomeAdvert.BinarySensor] = []
    var events: [BTHomeAdvert.Event] = []

    init(_ bytes: [UInt8]) {
        reader = ByteReader(bytes, subject: "BTHome v2")
    }

    mutating func run() {
        while !reader.isAtEnd {
            guard let id = try? reader.uint8("Object ID"), let kind = BTHomeObject.kind(of: id) else { return }
            do throws(DecodeError) {
                try read(kind)
            } catch {
                return  // a truncated last object: dropped, as bthome-ble does
            }
        }
    }

    private mutating func read(_ kind: BTHomeObject.Kind) throws(DecodeError) {
        switch kind {
        case .measurement(let name, let size, let signed, let step, let exponent, let unit):
            let raw = signed ? try reader.signed(size, name) : Int64(try reader.unsigned(size, name))
            measurements.append(.init(name: name, value: .number(.scaled(raw, step: step, exponent: exponent)), unit: unit))
        case .binary(let name):
            binarySensors.append(.init(name: name, isOn: try reader.uint8(name) != 0))
        case .event(let name, let size):
            let code = Int(try reader.uint8(name))
            let steps = size > 1 ? Int(try reader.unsigned(size - 1, name)) : nil
            let types = name == "dimmer" ? BTHomeObject.dimmerEvents : BTHomeObject.buttonEvents
            guard code != 0 else { return }  // "none": nothing happened
            events.append(.init(name: name, eventType: types[code] ?? "unknown_\(code)", steps: steps))
        case .text(let name):
            let length = Int(try reader.uint8(name))
            measurements.append(.init(name: name, value: .text(String(decoding: try reader.take(length, name), as: UTF8.self)), unit: nil))
        case .raw(let name):
            let length = Int(try reader.uint8(name))
            measurements.append(.init(name: name, value: .bytes(Array(try reader.take(length, name))), unit: nil))
        case .timestamp(let name):
            let seconds = Int64(try reader.unsigned(4, name))
            measurements.append(.init(name: name, value: .time(Timestamp(secondsSinceEpoch: seconds)), unit: nil))
        }
    }
}
