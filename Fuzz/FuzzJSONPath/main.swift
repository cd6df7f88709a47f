// libFuzzer target: the RFC 9535 and Json.NET JSONPath parsers and their evaluators.
// Input: an expression, optionally followed by a newline and a JSON document to select from
// (a small fixed document when there is none or it does not parse). Both dialects see the same text.
import LibFuzzerDriver
import JSONQuery

let fixedDocument: JSONValue = [
    "deviceId": "dev-1", "patientId": "pat-1", "measuredAt": "2026-01-01T00:00:00Z",
    "heartRate": 72, "spo2": 97.5, "flags": [true, false, nil],
    "readings": [["systolic": 120, "diastolic": 80, "unit": "mmHg"], ["systolic": 118.5, "diastolic": 79], "text"],
    "SystemProperties": ["iothub-connection-device-id": "hub-dev", "iothub-enqueuedtime": "2026-01-01T00:00:01Z"],
    "nested": ["a": ["b": ["c": [1, 2, 3, ["d": "e"]]]], "": "empty key", "with space": 1],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONPath(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let newline = bytes.firstIndex(of: 0x0A) ?? size
    let expression = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<newline]), as: UTF8.self)
    var document = fixedDocument
    if newline < size, let given = try? JSONValue(parsing: UnsafeBufferPointer(rebasing: bytes[(newline + 1)...])) {
        document = given
    }
    for dialect in [JSONPathExpression.Dialect.rfc9535, .jsonNet] {
        guard let compiled = try? JSONPathExpression(expression, dialect: dialect) else { continue }
        _ = try? compiled.select(document)
        _ = try? compiled.selectWithPaths(document)
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzJSONPath_main")
public func fuzzJSONPathMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
