extension JMESPath {
    /// Every function an expression can call, resolved at compile time.
    enum Function: String, Sendable {
        // JMESPath specification built-ins.
        case abs, avg, ceil, contains, floor, join, keys, length, map, max, merge, min, reverse, sort, sum, type, values
        case endsWith = "ends_with", maxBy = "max_by", minBy = "min_by", notNull = "not_null", sortBy = "sort_by"
        case startsWith = "starts_with", toArray = "to_array", toNumber = "to_number", toString = "to_string"
        // Azure MedTech (iomt-fhir Microsoft.Health.Expressions) custom functions.
        case add, subtract, multiply, divide, pow, insertString, fromUnixTimestamp, fromUnixTimestampMs

        var isMedTech: Bool {
            switch self {
            case .add, .subtract, .multiply, .divide, .pow, .insertString, .fromUnixTimestamp, .fromUnixTimestampMs: true
            default: false
            }
        }

        /// Number of arguments; variadic functions take at least this many.
        private var arity: (count: Int, variadic: Bool) {
            switch self {
            case .abs, .avg, .ceil, .floor, .keys, .length, .max, .min, .reverse, .sort, .sum, .type, .values,
                .toArray, .toNumber, .toString, .fromUnixTimestamp, .fromUnixTimestampMs:
                (1, false)
            case .contains, .endsWith, .startsWith, .join, .map, .maxBy, .minBy, .sortBy,
                .add, .subtract, .multiply, .divide, .pow:
                (2, false)
            case .insertString:
                (3, false)
            case .merge, .notNull:
                (1, true)
            }
        }

        /// Why `count` arguments are wrong for this function, or nil when they are fine.
        func arityProblem(_ count: Int) -> String? {
            let (expected, variadic) = arity
            if variadic {
                guard count < expected else { return nil }
                return "\(rawValue)() takes at least \(expected) argument\(expected == 1 ? "" : "s") but was given \(count)"
            }
            guard count != expected else { return nil }
            return "\(rawValue)() takes \(expected) argument\(expected == 1 ? "" : "s") but was given \(count)"
        }
    }
}
