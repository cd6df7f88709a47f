// libFuzzer target: the MLLP framer and the ER7 parser, then what the listener does with a frame
// (PCD-01 conversion, the ACK for it, and the ACK re-parsed). The input is the byte stream a
// peer sends, split at arbitrary points as TCP may deliver it.
import EdgeCore
import HL7
import JSONQuery
import LibFuzzerDriver

func handle(_ frame: [UInt8]) {
    let header = HL7OriginalHeader(scanning: frame)
    var errors: [HL7Error] = []
    do {
        let message = try ER7Parser().parse(frame)
        let result = try PCD01Conversion().convert(message)
        _ = JSONWriter().string(result.message)
    } catch {
        errors.append(error)
    }
    let builder = HL7AcknowledgementBuilder()
    let ack = builder.acknowledgement(
        to: header, code: errors.isEmpty ? .accept : .error, errors: errors, controlID: "F1", at: Timestamp(millisecondsSinceEpoch: 0))
    // Every ACK the gateway writes must itself be valid ER7 that names the original control id.
    guard let parsed = try? ER7Parser().parse(ack) else { fatalError("the ACK does not parse") }
    guard parsed.segments.count >= 2, parsed.segments[1].id == "MSA" else { fatalError("the ACK has no MSA") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHL7(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The whole input as one message, and as an MLLP stream cut where its first byte says.
    handle(bytes)
    var framer = MLLPFramer(maxFrameBytes: 4096)
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    for event in framer.feed(bytes[..<cut]) + framer.feed(bytes[cut...]) {
        switch event {
        case .frame(let frame): handle(frame)
        case .oversized(let head): _ = HL7OriginalHeader(scanning: head)
        }
    }
    for byte in bytes.prefix(64) { _ = HL7Time.parse(String(decoding: bytes.prefix(Int(byte) % 32), as: UTF8.self)) }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzHL7_main")
public func fuzzHL7Main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
