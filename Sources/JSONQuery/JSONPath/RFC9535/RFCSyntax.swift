struct RFCSegment: Sendable {
    var isDescendant: Bool
    var selectors: [RFCSelector]
}

enum RFCSelector: Sendable {
    case name(String)
    case wildcard
    case index(Int)
    case slice(start: Int?, end: Int?, step: Int?)
    case filter(RFCLogical)
}

/// A compiled query: the top-level `$...`, or `@...` / `$...` inside a filter.
struct RFCFilterQuery: Sendable {
    enum SingularStep: Sendable {
        case name(String)
        case index(Int)
    }

    var isRelative: Bool
    var segments: [RFCSegment]
    /// Set when the query is singular (RFC 9535 2.3.5.1); evaluated without building node lists.
    var singular: [SingularStep]?

    init(isRelative: Bool, segments: [RFCSegment]) {
        self.isRelative = isRelative
        self.segments = segments
        var steps: [SingularStep] = []
        for segment in segments {
            guard !segment.isDescendant, segment.selectors.count == 1 else {
                singular = nil
                return
            }
            switch segment.selectors[0] {
            case .name(let n): steps.append(.name(n))
            case .index(let i): steps.append(.index(i))
            default:
                singular = nil
                return
            }
        }
        singular = steps
    }
}

enum RFCComparisonOperator: Sendable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
}

enum RFCFunction: String, Sendable {
    case length, count, match, search, value

    enum ParameterType { case value, logical, nodes }

    var parameters: [ParameterType] {
        switch self {
        case .length: [.value]
        case .count, .value: [.nodes]
        case .match, .search: [.value, .value]
        }
    }

    var returnsLogical: Bool { self == .match || self == .search }
}

struct RFCFunctionCall: Sendable {
    var function: RFCFunction
    var arguments: [RFCArgument]
    /// `match`/`search` with a literal pattern compile it once; nil pattern = invalid I-Regexp.
    var literalPattern: LiteralPattern?

    enum LiteralPattern: Sendable {
        case valid(Regex)
        case invalid
    }
}

indirect enum RFCArgument: Sendable {
    case literal(JSONValue)
    case query(RFCFilterQuery)
    case logical(RFCLogical)
    case function(RFCFunctionCall)
}

indirect enum RFCComparable: Sendable {
    case literal(JSONValue)
    case query(RFCFilterQuery)
    case function(RFCFunctionCall)
}

indirect enum RFCLogical: Sendable {
    case or([RFCLogical])
    case and([RFCLogical])
    case not(RFCLogical)
    case exists(RFCFilterQuery)
    case function(RFCFunctionCall)
    case comparison(RFCComparable, RFCComparisonOperator, RFCComparable)
}
