// libFuzzer target: the JSON parser, strict and template-lenient (comments, trailing commas),
// the NDJSON line splitter, and a write -> parse round trip of whatever parses.
import LibFuzzerDriver
import JSONQuery

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let value = try? JSONValue(parsing: bytes) {
        roundTrip(value)
    }
    if let value = try? JSONValue(parsing: bytes, options: .template) {
        roundTrip(value)
    }
    _ = try? JSONValue.parseLines(bytes)
    // The String entry point: invalid UTF-8 is repaired before parsing.
    _ = try? JSONValue(parsing: String(decoding: bytes, as: UTF8.self))
    return 0
}

/// What the writer produces, strict mode reads back as the same value (compact and pretty).
func roundTrip(_ value: JSONValue) {
    for options in [JSONWriter.Options(), [.pretty, .sortedKeys]] {
        var out: [UInt8] = []
        JSONWriter(options: options).write(value, into: &out)
        let reparsed: JSONValue
        do {
            reparsed = try JSONValue(parsing: out)
        } catch {
            fatalError("written JSON does not parse: \(error): \(String(decoding: out, as: UTF8.self))")
        }
        guard reparsed == value else {
            fatalError("round trip changed the value: \(value) -> \(reparsed)")
        }
    }
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzJSON_main")
public func fuzzJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
