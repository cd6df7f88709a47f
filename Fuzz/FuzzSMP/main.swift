// libFuzzer target: an SMP PDU from a peer (code octet first): parsed, and every parsed PDU
// re-encodes to bytes that parse to the same PDU (PacketParsing.securityManagerPDU).
import Bluetooth
import LibFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSMP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    PacketParsing.securityManagerPDU(bytes)
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzSMP_main")
public func fuzzSMPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
