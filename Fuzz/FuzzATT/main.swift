// libFuzzer target: what a peer sends on the ATT channel.
// Input: the first octet picks the request outstanding (MTU exchange, service, characteristic and
// descriptor discovery, read), the rest is the peer's PDU: parsed as that request's response and
// as a request the local GATT server answers (PacketParsing.attributeExchange).
import Bluetooth
import LibFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzATT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    PacketParsing.attributeExchange(bytes)
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzATT_main")
public func fuzzATTMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
