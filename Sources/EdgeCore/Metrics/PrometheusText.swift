/// Builds Prometheus text (format 0.0.4): `# HELP`, `# TYPE` and samples with escaped label
/// values; the gateway's and the uploader's families are written by this one writer.
package struct PrometheusText {
    package init() {}

    package private(set) var output = ""

    package mutating func family(_ name: String, _ type: String, _ help: String) {
        output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    package mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        output += name
        if !labels.isEmpty {
            output += "{"
            output += labels.keys.sorted().map { key in "\(key)=\"\(Self.escape(labels[key] ?? ""))\"" }.joined(separator: ",")
            output += "}"
        }
        output += " " + Self.format(value) + "\n"
    }

    package static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    package static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
