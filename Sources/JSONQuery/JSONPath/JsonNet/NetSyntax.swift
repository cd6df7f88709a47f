/// The compiled form of a Json.NET `SelectToken` path: a list of filters applied in turn,
/// mirroring Json.NET's `PathFilter` classes so its behaviour can be matched case by case.
struct NetPath: Sendable {
    var filters: [NetFilter]

    /// The member names when the path is only `.name` steps (`@heartRate`, `@Body.heartRate`):
    /// such paths are walked directly, without node lists.
    var simpleNames: [String]?

    /// For `..[?(@a.b)]` alone, the most common type match of device templates: the names of the
    /// existence test, so the scan is one recursive walk without node lists.
    var scanExistsNames: [String]?

    init(filters: [NetFilter]) {
        self.filters = filters
        if filters.count == 1, case .scanQuery(.boolean(.path(let test, fromRoot: false), .exists, nil)) = filters[0] {
            scanExistsNames = test.simpleNames
        }
        var names: [String] = []
        for filter in filters {
            guard case .field(let name?) = filter else {
                simpleNames = nil
                return
            }
            names.append(name)
        }
        simpleNames = names
    }
}

enum NetFilter: Sendable {
    /// `.name` or `['name']`; nil is `.*` (member values of objects only).
    case field(String?)
    /// `['a','b']`
    case fields([String])
    /// `..name`; nil is `..*`, which also yields the start node.
    case scan(String?)
    /// `..['a','b']`
    case scanFields([String])
    /// `[n]`; a negative index is a run-time error on arrays, as in Json.NET.
    case index(Int)
    /// `[n,m]`
    case indexes([Int])
    /// `[*]`: array elements only.
    case elements
    /// `[start:end:step]`; step 0 is a run-time error.
    case slice(start: Int?, end: Int?, step: Int?)
    /// `[?(...)]`: tests array elements; never matches members of an object.
    case query(NetExpression)
    /// `..[?(...)]`: tests the start node itself and all its descendants.
    case scanQuery(NetExpression)
}

indirect enum NetExpression: Sendable {
    case and([NetExpression])
    case or([NetExpression])
    case boolean(NetOperand, NetOperator, NetOperand?)
}

enum NetOperand: Sendable {
    case path(NetPath, fromRoot: Bool)
    case literal(JSONValue)
    /// A `/pattern/flags` literal on the right of `=~`, compiled at parse time.
    case pattern(Regex)
}

enum NetOperator: Sendable {
    case exists, equals, notEquals, strictEquals, strictNotEquals, regexEquals
    case lessThan, lessThanOrEquals, greaterThan, greaterThanOrEquals
}
