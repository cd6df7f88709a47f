// Maps device messages from an NDJSON file through device-content and FHIR templates, single-threaded,
// and prints one JSON line of figures. Driven by scripts/bench-mapping.sh, which runs the Python
// baseline on the same messages and prints the ratios.
//
// Usage: MappingBenchmark DEVICE_TEMPLATE FHIR_TEMPLATE MESSAGES.ndjson CASE
import EdgeCore
import Foundation
import JSONQuery
import Mapping

let arguments = CommandLine.arguments
guard arguments.count == 5 else {
    FileHandle.standardError.write(Data("usage: MappingBenchmark DEVICE_TEMPLATE FHIR_TEMPLATE MESSAGES.ndjson CASE\n".utf8))
    exit(2)
}

func text(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
        exit(2)
    }
    return text
}

let device = try DeviceTemplateCollection(parsing: text(arguments[1]), source: arguments[1])
let fhir = try FHIRTemplateCollection(parsing: text(arguments[2]), source: arguments[2])
let converter = ObservationConverter(templates: fhir, identity: .create(deviceSystem: nil))
let input = FileManager.default.contents(atPath: arguments[3]) ?? Data()

// Split lines up front: reading the file is not what is measured (the baseline does the same).
var lines: [Range<Int>] = []
input.withUnsafeBytes { raw in
    var start = 0
    for (i, byte) in raw.enumerated() where byte == 0x0A {
        if i > start { lines.append(start..<i) }
        start = i + 1
    }
    if start < raw.count { lines.append(start..<raw.count) }
}

let issued = Timestamp(millisecondsSinceEpoch: 1_764_230_400_000)
var observations = 0
var failures = 0
var bytesOut = 0
let writer = JSONWriter()
var out: [UInt8] = []
out.reserveCapacity(4096)
let clock = ContinuousClock()
let start = clock.now
input.withUnsafeBytes { raw in
    let bytes = raw.bindMemory(to: UInt8.self)
    for range in lines {
        do {
            let message = try JSONValue(parsing: UnsafeBufferPointer(rebasing: bytes[range]))
            let measurements = try device.normalize(message, ingestionTime: issued)
            let result = converter.convert(measurements, issued: issued)
            for observation in result.observations {
                out.removeAll(keepingCapacity: true)
                writer.write(observation.json, into: &out)
                bytesOut += out.count
                observations += 1
            }
            failures += result.errors.count
        } catch {
            failures += 1
        }
    }
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let figures: JSONValue = [
    "case": .string(arguments[4]),
    "messages": .int(Int64(lines.count)),
    "observations": .int(Int64(observations)),
    "failures": .int(Int64(failures)),
    "seconds": .double((seconds * 10_000).rounded() / 10_000),
    "messagesPerSecond": .int(Int64(Double(lines.count) / seconds)),
    "peakRssKiB": .int(Int64(usage.ru_maxrss)),
]
print(figures)
