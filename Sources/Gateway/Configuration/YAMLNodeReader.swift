import EdgeCore
import YAML

/// Walks a YAML node tree (`YAMLLoader`), reading typed values and collecting every problem with its key path.
/// Unknown keys are problems: a misspelt key silently falling back to a default is how an
/// operator ends up with a store bound they never chose.
struct YAMLNodeReader {
    let file: String
    private(set) var problems: [ConfigurationProblem] = []
    /// The resolved `profiles.directory`, once read.
    var profilesDirectory: String?

    init(file: String) {
        self.file = file
    }

    mutating func problem(_ path: String, _ node: YAMLNode?, _ message: String) {
        problems.append(ConfigurationProblem(file: file, keyPath: path, line: node?.mark.line, message: message))
    }

    /// The members of a mapping, reporting keys that are not in `known`; nil (with a problem)
    /// when `node` is not a mapping.
    mutating func mapping(_ node: YAMLNode, at path: String, known: Set<String>) -> [String: YAMLNode]? {
        guard case .mapping(let mapping) = node else {
            problem(path, node, "expected a mapping of keys to values")
            return nil
        }
        var members: [String: YAMLNode] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                problem(path, keyNode, "keys must be plain text")
                continue
            }
            let childPath = Self.join(path, key.string)
            if !known.isEmpty, !known.contains(key.string) {
                let choices = known.sorted().joined(separator: ", ")
                problem(childPath, keyNode, "unknown key; expected one of: \(choices)")
                continue
            }
            if members[key.string] != nil {
                problem(childPath, keyNode, "duplicate key")
                continue
            }
            members[key.string] = value
        }
        return members
    }

    /// A mapping whose keys are names chosen by the operator (client ids, profile names).
    mutating func namedMapping(_ node: YAMLNode, at path: String) -> [(String, YAMLNode)]? {
        guard case .mapping(let mapping) = node else {
            problem(path, node, "expected a mapping of names to values")
            return nil
        }
        var seen = Set<String>()
        var members: [(String, YAMLNode)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode, !key.string.isEmpty else {
                problem(path, keyNode, "names must be non-empty plain text")
                continue
            }
            guard seen.insert(key.string).inserted else {
                problem(Self.join(path, key.string), keyNode, "duplicate name")
                continue
            }
            members.append((key.string, value))
        }
        return members
    }

    mutating func sequence(_ node: YAMLNode, at path: String) -> [YAMLNode]? {
        guard case .sequence(let sequence) = node else {
            problem(path, node, "expected a list")
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: YAMLNode, at path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            problem(path, node, "expected text")
            return nil
        }
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            problem(path, node, "expected text, found nothing")
            return nil
        }
        return scalar.string
    }

    mutating func bool(_ node: YAMLNode, at path: String) -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        problem(path, node, "expected true or false")
        return nil
    }

    mutating func integer(_ node: YAMLNode, at path: String, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = node, scalar.style == .plain, let value = Int(scalar.string) else {
            problem(path, node, "expected a whole number")
            return nil
        }
        guard range.contains(value) else {
            problem(path, node, "expected a number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func size(_ node: YAMLNode, at path: String) -> Int64? {
        guard case .scalar(let scalar) = node, let bytes = ByteSize.parse(scalar.string), bytes > 0 else {
            problem(path, node, "expected a size like 512MiB")
            return nil
        }
        return bytes
    }

    /// A size no larger than `limit`; above it, a problem saying `why` it is bounded.
    mutating func size(_ node: YAMLNode, at path: String, atMost limit: Int64, _ why: String) -> Int? {
        guard let bytes = size(node, at: path) else { return nil }
        guard bytes <= limit else {
            problem(path, node, "at most \(ByteSize.text(limit)): \(why)")
            return nil
        }
        return Int(bytes)
    }

    mutating func duration(_ node: YAMLNode, at path: String) -> Int64? {
        guard case .scalar(let scalar) = node, let milliseconds = DurationText.parseMilliseconds(scalar.string), milliseconds > 0 else {
            problem(path, node, "expected a duration like 7d, 12h, 30m or 45s")
            return nil
        }
        return milliseconds
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }
}

/// Sizes as operators write them: `512MiB`, `1GB`, `64KiB`, `1048576`.
enum ByteSize {
    /// `1GiB`, `64MiB`, or the byte count when it is no whole number of KiB.
    static func text(_ bytes: Int64) -> String {
        for (unit, size) in [("GiB", Int64(1) << 30), ("MiB", Int64(1) << 20), ("KiB", Int64(1) << 10)] where bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes) bytes"
    }

    static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces
        guard !digits.isEmpty, let number = Double(digits) else { return nil }
        let multiplier: Double
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "kb", "k": multiplier = 1e3
        case "kib": multiplier = 1024
        case "mb", "m": multiplier = 1e6
        case "mib": multiplier = 1_048_576
        case "gb", "g": multiplier = 1e9
        case "gib": multiplier = 1_073_741_824
        case "tb": multiplier = 1e12
        case "tib": multiplier = 1_099_511_627_776
        default: return nil
        }
        let bytes = (number * multiplier).rounded(.down)
        guard bytes >= 0, bytes < 9e18 else { return nil }
        return Int64(bytes)
    }
}

/// Durations as operators write them: `7d`, `12h`, `30m`, `45s`, `250ms`.
enum DurationText {
    static func parseMilliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces
        guard !digits.isEmpty, digits.count < 13, let number = Int64(digits) else { return nil }
        switch unit {
        case "ms": return number
        case "s": return number * 1000
        case "m": return number * 60_000
        case "h": return number * 3_600_000
        case "d": return number * 86_400_000
        case "w": return number * 604_800_000
        default: return nil
        }
    }
}
