// libFuzzer target: ACL fragments from a controller, reassembled into L2CAP PDUs.
// Input: fragments, each a handle octet, a boundary octet and a length octet before its data;
// complete PDUs go to ATT, LE signalling (as central and peripheral) and SMP
// (PacketParsing.aclFragments).
import Bluetooth
import LibFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzL2CAP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    PacketParsing.aclFragments(bytes)
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzL2CAP_main")
public func fuzzL2CAPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
