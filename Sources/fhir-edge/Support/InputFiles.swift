import EdgeSystem
import ArgumentParser
import FoundationEssentials
import JSONQuery

/// Reads a named file, or standard input for `-` / no name.
func readInput(_ path: String?) throws -> Data {
    if path == nil || path == "-" {
        return Data(StandardStream.readInput())
    }
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path!))
    } catch {
        throw UsageFailure("cannot read \(path!): \(SystemErrorText.reason(error))")
    }
}

func readText(_ path: String) throws -> String {
    let data = try readInput(path)
    guard let text = String(data: data, encoding: .utf8) else {
        throw UsageFailure("\(path) is not UTF-8 text")
    }
    return text
}

/// Parses JSON input and names the source in the error.
func parseJSON(_ data: Data, source: String) throws -> JSONValue {
    do {
        return try data.withUnsafeBytes { raw in
            try JSONValue(parsing: raw.bindMemory(to: UInt8.self))
        }
    } catch let error as JSONParseError {
        throw UsageFailure("\(source): \(error)")
    }
}

/// A failure the user can fix: printed on stderr, exit status 2.
struct UsageFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    /// Runs `body`, turning `UsageFailure`s into a message on stderr and exit code 2.
    func exitingOnUsageFailure(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as UsageFailure {
            StandardStream.error.write("fhir-edge: \(failure.description)\n")
            throw ExitCode(2)
        }
    }
}

func printJSON(_ value: JSONValue, pretty: Bool = true) {
    var out: [UInt8] = []
    JSONWriter(options: pretty ? [.pretty] : []).write(value, into: &out)
    out.append(0x0A)
    StandardStream.output.write(out)
}
