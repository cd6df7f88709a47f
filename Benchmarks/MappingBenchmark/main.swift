// Maps device messages from an NDJSON file through device-content and FHIR templates, single-threaded,
// and prints one JSON line of figures. Driven by scripts/bench-mapping.sh, which runs the Python
// baseline on the same messages and prints the ratios.
//
// Each stage runs over all messages and adds one step to the previous stage, so the differences
// show where the time goes:
//   normalize  parse + DeviceTemplateCollection.normalize
//   convert    + ObservationConverter.convert (Create-mode ids: SHA-256 per Observation; the
//              template's compiled plan where the reading fits it, as the gateway converts)
//   serialize  + ConvertedObservation.writeJSON, compact bytes (what the Python baseline's json.dumps does)
//   tree       + the model Observation, its json, then JSONWriter: the same bytes through the JSONValue tree
//   pipeline   MappingPipeline.map on batches of 100 messages with Create-mode Patients and Devices:
//              the daemon's mapping stage (receive times, origins, resource texts)
//   pipeline-general  the same without the compiled Observation plans (the baseline of the plans)
//
// Usage: MappingBenchmark DEVICE_TEMPLATE FHIR_TEMPLATE MESSAGES.ndjson CASE [STAGE...]
// With MAPPING_BENCH_DUMP=PATH it also writes every Observation as one line to PATH (untimed),
// which the script compares byte for byte with the baseline's.
import EdgeCore
import FHIRModel
import Foundation
import JSONQuery
import Mapping

enum Stage: String, CaseIterable {
    case normalize, convert, serialize, tree, pipeline
    case pipelineGeneral = "pipeline-general"
}

let arguments = CommandLine.arguments
let stageNames = arguments.dropFirst(5)
let stages = stageNames.isEmpty ? Stage.allCases : stageNames.compactMap(Stage.init(rawValue:))
guard arguments.count >= 5, stages.count == stageNames.count || stageNames.isEmpty else {
    FileHandle.standardError.write(Data("usage: MappingBenchmark DEVICE_TEMPLATE FHIR_TEMPLATE MESSAGES.ndjson CASE [normalize|convert|serialize|tree ...]\n".utf8))
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
let lines: [Range<Int>] = input.withUnsafeBytes { raw in
    var lines: [Range<Int>] = []
    var start = 0
    for (i, byte) in raw.enumerated() where byte == 0x0A {
        if i > start { lines.append(start..<i) }
        start = i + 1
    }
    if start < raw.count { lines.append(start..<raw.count) }
    return lines
}

let issued = Timestamp(millisecondsSinceEpoch: 1_764_230_400_000)

struct Outcome {
    var measurements = 0
    var observations = 0
    var failures = 0
    var bytes = 0
    var seconds = 0.0
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The daemon's path: one `MappingPipeline.map` per batch of 100 messages.
func runPipeline(plans: Bool) -> Outcome {
    var outcome = Outcome()
    var planned = converter
    planned.usesPlans = plans
    let pipeline = MappingPipeline(deviceTemplates: device, converter: planned, resources: .create)
    let clock = ContinuousClock()
    var elapsed = Duration.zero
    input.withUnsafeBytes { raw in
        let bytes = raw.bindMemory(to: UInt8.self)
        for first in stride(from: 0, to: lines.count, by: 100) {
            // Each batch is made just before it is mapped (untimed), as the daemon claims one.
            let batch = (first..<min(first + 100, lines.count)).map { index in
                MappingPipeline.Message(
                    payload: Array(bytes[lines[index]]), receivedAt: issued.adding(milliseconds: Int64(index)),
                    sequence: Int64(index + 1), transport: .http)
            }
            let start = clock.now
            let output = pipeline.map(batch, issued: issued)
            elapsed += clock.now - start
            outcome.observations += output.observationCount
            outcome.failures += output.conversionFailures.count + output.outcomes.count(where: { (try? $0.get()) == nil })
            for resource in output.resources { outcome.bytes += resource.body.utf8.count }
        }
    }
    outcome.seconds = seconds(elapsed)
    return outcome
}

func run(_ stage: Stage) -> Outcome {
    if stage == .pipeline || stage == .pipelineGeneral { return runPipeline(plans: stage == .pipeline) }
    var outcome = Outcome()
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
                outcome.measurements += measurements.count
                if stage == .normalize { continue }
                let result = converter.convert(measurements, issued: issued)
                outcome.observations += result.converted.count
                outcome.failures += result.errors.count
                if stage == .convert { continue }
                for observation in result.converted {
                    out.removeAll(keepingCapacity: true)
                    if stage == .serialize {
                        observation.writeJSON(into: &out)
                    } else {
                        writer.write(observation.observation.json, into: &out)
                    }
                    outcome.bytes += out.count
                }
            } catch {
                outcome.failures += 1
            }
        }
    }
    let elapsed = clock.now - start
    outcome.seconds = seconds(elapsed)
    return outcome
}

var figures = JSONObject()
figures["case"] = .string(arguments[4])
figures["messages"] = .int(Int64(lines.count))
for stage in stages {
    let outcome = run(stage)
    var entry = JSONObject()
    entry["measurements"] = .int(Int64(outcome.measurements))
    entry["observations"] = .int(Int64(outcome.observations))
    entry["failures"] = .int(Int64(outcome.failures))
    entry["bytes"] = .int(Int64(outcome.bytes))
    entry["seconds"] = .double((outcome.seconds * 10_000).rounded() / 10_000)
    entry["messagesPerSecond"] = .int(Int64(Double(lines.count) / max(outcome.seconds, 1e-9)))
    figures[stage.rawValue] = .object(entry)
}
if let path = ProcessInfo.processInfo.environment["MAPPING_BENCH_DUMP"] {
    var all: [UInt8] = []
    input.withUnsafeBytes { raw in
        let bytes = raw.bindMemory(to: UInt8.self)
        for range in lines {
            guard let message = try? JSONValue(parsing: UnsafeBufferPointer(rebasing: bytes[range])),
                let measurements = try? device.normalize(message, ingestionTime: issued)
            else { continue }
            for observation in converter.convert(measurements, issued: issued).converted {
                observation.writeJSON(into: &all)
                all.append(0x0A)
            }
        }
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(all)) else {
        FileHandle.standardError.write(Data("cannot write \(path)\n".utf8))
        exit(2)
    }
}
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
figures["peakRssKiB"] = .int(Int64(usage.ru_maxrss))
print(JSONValue.object(figures))
