// libFuzzer target: the MedTech template loaders and the mapping of a device message.
// Every input is tried three ways:
//   - as a device-content template collection; one that loads normalizes a fixed message,
//   - as a FHIR template collection; one that loads converts the fixed message's measurements,
//   - as a device message, normalized and converted through the fixed demo-vitals templates.
// The fixed templates and message are read once from device-profiles/demo-vitals.
import LibFuzzerDriver
import EdgeCore
import FHIRModel
#if canImport(Glibc)
import Glibc
#endif
import JSONQuery
import Mapping

func profileText(_ name: String) -> String {
    let root = String(#filePath.dropLast("Fuzz/FuzzTemplates/main.swift".count))
    let path = root + "device-profiles/demo-vitals/" + name
    guard let file = fopen(path, "rb") else { fatalError("cannot read \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n == 0 { break }
        bytes += chunk[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

struct Fixture: Sendable {
    let device: DeviceTemplateCollection
    let fhir: FHIRTemplateCollection
    let message: JSONValue
    let measurements: [Measurement]
}

let issued = Timestamp(millisecondsSinceEpoch: 1_764_230_400_000)

let fixture: Fixture = {
    do {
        let device = try DeviceTemplateCollection(parsing: profileText("devicecontent.json"), source: "devicecontent.json")
        let fhir = try FHIRTemplateCollection(parsing: profileText("fhirmapping.json"), source: "fhirmapping.json")
        let messages = try JSONValue(parsing: profileText("testcases/vitals-input.json")).arrayValue ?? []
        let message = messages.first ?? [:]
        return Fixture(device: device, fhir: fhir, message: message, measurements: try device.normalize(message, ingestionTime: issued))
    } catch {
        fatalError("demo-vitals fixture: \(error)")
    }
}()

func map(_ message: JSONValue, _ device: DeviceTemplateCollection, _ fhir: FHIRTemplateCollection) {
    guard let measurements = try? device.normalize(message, ingestionTime: issued, receiveSequence: 1) else { return }
    convert(measurements, fhir)
}

func convert(_ measurements: [Measurement], _ fhir: FHIRTemplateCollection) {
    for identity in [ResourceIdentity.create(deviceSystem: nil), .lookup(deviceSystem: "urn:fuzz")] {
        let result = ObservationConverter(templates: fhir, identity: identity).convert(measurements, issued: issued)
        var out: [UInt8] = []
        for observation in result.observations {
            out.removeAll(keepingCapacity: true)
            observation.writeJSON(into: &out)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplates(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    if let device = try? DeviceTemplateCollection(parsing: text, source: "fuzz") {
        map(fixture.message, device, fixture.fhir)
    }
    if let fhir = try? FHIRTemplateCollection(parsing: text, source: "fuzz") {
        convert(fixture.measurements, fhir)
    }
    if let message = try? JSONValue(parsing: bytes) {
        map(message, fixture.device, fixture.fhir)
        for element in message.arrayValue ?? [] { map(element, fixture.device, fixture.fhir) }
    }
    return 0
}

/// The executable's entry point (SwiftPM links `main` to it): libFuzzer's driver.
@_cdecl("FuzzTemplates_main")
public func fuzzTemplatesMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    // Loaded before the first input: libFuzzer counts what an input allocates and does not free as
    // a leak, and LeakSanitizer cannot follow the pointers Swift packs into enum payloads' spare bits.
    _ = fixture
    return fhir_edge_fuzz_main(argc, argv)
}
