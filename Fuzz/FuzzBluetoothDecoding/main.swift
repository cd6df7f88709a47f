// libFuzzer target: the decoders of what a Bluetooth peripheral sends.
// Input: a 16-bit UUID (little-endian), then the payload:
//   - a health measurement characteristic's UUID: its GATT value, through HealthDecoder,
//   - 0xFCD2: BTHome v2 service data, without a key and with a fixed bind key and address,
//   - anything else: advertising data (AD structures); BTHome service data in it is decoded too.
// Every decoded reading is also turned into its device message. The IEEE 11073 SFLOAT and FLOAT
// readers see the payload's first bytes.
import LibFuzzerDriver
import BluetoothDecoding
import EdgeCore
import JSONQuery

let bindKey: [UInt8] = [0x23, 0x1D, 0x39, 0xC1, 0xD7, 0xCC, 0x1A, 0xB1, 0xAE, 0xE2, 0x24, 0xCD, 0x09, 0x6D, 0xB9, 0x32]
let address: [UInt8] = [0x54, 0x48, 0xE6, 0x8F, 0x80, 0xA5]
let receivedAt = Timestamp(millisecondsSinceEpoch: 1_764_230_400_000)

func bthome(_ serviceData: [UInt8]) {
    if let advert = try? BTHomeDecoder.decode(serviceData: serviceData) {
        _ = advert.message(deviceID: "fuzz", receivedAt: receivedAt, patientID: "p")
    }
    if let advert = try? BTHomeDecoder.decode(serviceData: serviceData, bindKey: bindKey, address: address) {
        _ = advert.message(deviceID: "fuzz", receivedAt: receivedAt)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBluetoothDecoding(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let uuid = UInt16(data[0]) | UInt16(data[1]) << 8
    let payload = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    if payload.count >= 2 { _ = IEEE11073.sfloat(UInt16(payload[0]) | UInt16(payload[1]) << 8).doubleValue }
    if payload.count >= 4 {
        let raw = UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24
        _ = IEEE11073.float(raw).doubleValue
    }
    if let characteristic = HealthCharacteristic(uuid16: uuid) {
        if let reading = try? HealthDecoder.decode(characteristic, payload) {
            _ = reading.message(deviceID: "fuzz", receivedAt: receivedAt, patientID: "p")
        }
    } else if uuid == BTHomeDecoder.serviceUUID {
        bthome(payload)
    } else if let advertising = try? AdvertisingData.parse(payload) {
        _ = advertising.merging(advertising)
        if let serviceData = advertising.serviceData(for: BluetoothUUID(uuid16: BTHomeDecoder.serviceUUID)) {
            bthome(serviceData)
        }
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzBluetoothDecoding_main")
public func fuzzBluetoothDecodingMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
