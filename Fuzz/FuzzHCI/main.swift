// libFuzzer target: what a controller sends the host over H4.
// Input: the first octet says where the stream is cut in two (framing across reads), the rest is
// the byte stream: H4 framing, HCI event parsing, the command flow's matching of Command
// Complete/Status with the setup's return parameters, advertising reports, ACL reassembly and the
// L2CAP channels behind it (PacketParsing.controllerStream).
import Bluetooth
import LibFuzzerDriver

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHCI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let split = bytes.first else { return 0 }
    PacketParsing.controllerStream(Array(bytes.dropFirst()), split: Int(split) * max(size / 256, 1))
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzHCI_main")
public func fuzzHCIMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
