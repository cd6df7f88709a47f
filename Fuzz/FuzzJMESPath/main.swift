// libFuzzer target: the JMESPath lexer, parser and interpreter, with the standard and the MedTech
// function tables. Input: an expression, optionally followed by a newline and a JSON document
// (a small fixed document when there is none or it does not parse).
import LibFuzzerDriver
import JSONQuery

let fixedDocument: JSONValue = [
    "deviceId": "dev-1", "patientId": "pat-1", "measuredAt": "2026-01-01T00:00:00Z",
    "Body": ["heartRate": 72, "spo2": 97.5, "steps": [10, 20, 30], "unit": "degF", "temp": 98.6],
    "people": [["name": "a", "age": 30], ["name": "b", "age": 40.5], ["name": nil, "age": "x"]],
    "matchedToken": ["systolic": 120, "diastolic": 80], "flags": [true, false, nil], "empty": [:],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJMESPath(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let newline = bytes.firstIndex(of: 0x0A) ?? size
    let expression = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<newline]), as: UTF8.self)
    var document = fixedDocument
    if newline < size, let given = try? JSONValue(parsing: UnsafeBufferPointer(rebasing: bytes[(newline + 1)...])) {
        document = given
    }
    for functions in [JMESPathFunctions.standard, .medTech] {
        guard let compiled = try? JMESPathExpression(expression, functions: functions) else { continue }
        _ = compiled.isProjection
        _ = try? compiled.evaluate(document)
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzJMESPath_main")
public func fuzzJMESPathMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    fhir_edge_fuzz_main(argc, argv)
}
