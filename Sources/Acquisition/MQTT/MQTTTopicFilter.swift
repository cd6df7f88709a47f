/// An MQTT topic filter (MQTT 3.1.1 §4.7): levels split on `/`, `+` matching exactly one level,
/// `#` (last, alone in its level) matching the parent and any number of levels below it.
/// Filters starting with a wildcard do not match topics starting with `$` (broker topics such
/// as `$SYS/...`), as brokers do.
package struct MQTTTopicFilter: Sendable, Hashable, CustomStringConvertible {
    package let text: String
    let levels: [Substring]

    /// Why a filter is not valid, for configuration errors.
    package static func problem(_ text: String) -> String? {
        guard !text.isEmpty else { return "empty; a topic filter has at least one level" }
        guard text.utf8.count <= 65_535 else { return "longer than MQTT's 65535 bytes" }
        guard !text.utf8.contains(0) else { return "contains a NUL character" }
        let levels = text.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#") {
                guard level == "#" else { return "'#' must be a whole level, e.g. clinic/#" }
                guard index == levels.count - 1 else { return "'#' must be the last level" }
            }
            if level.contains("+"), level != "+" { return "'+' must be a whole level, e.g. clinic/+/vitals" }
        }
        return nil
    }

    package init?(_ text: String) {
        guard Self.problem(text) == nil else { return nil }
        self.text = text
        self.levels = text.split(separator: "/", omittingEmptySubsequences: false)
    }

    package var description: String { text }

    /// Whether a published topic (no wildcards) matches this filter.
    package func matches(_ topic: String) -> Bool {
        let topicLevels = topic.split(separator: "/", omittingEmptySubsequences: false)
        if topic.hasPrefix("$"), let first = levels.first, first == "+" || first == "#" { return false }
        var index = 0
        for level in levels {
            if level == "#" { return true }
            guard index < topicLevels.count else { return false }
            if level != "+", level != topicLevels[index] { return false }
            index += 1
        }
        return index == topicLevels.count
    }

    /// Level `number` (1-based) of a published topic, when it has that many.
    package static func level(_ number: Int, of topic: String) -> String? {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard number >= 1, number <= levels.count else { return nil }
        return String(levels[number - 1])
    }

    /// The 1-based level numbers that are `+` in the filter: the levels a topic may vary in.
    package var singleLevelWildcards: [Int] {
        levels.enumerated().compactMap { $0.element == "+" ? $0.offset + 1 : nil }
    }
}
