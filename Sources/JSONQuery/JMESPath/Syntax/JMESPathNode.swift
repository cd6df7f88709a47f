extension JMESPath {
    /// The syntax tree of a compiled expression. Projections carry their left side (what produces
    /// the collection) and their right side (what runs on each element), as in the specification.
    indirect enum Node: Sendable {
        /// `@`, and the implicit right side of a projection that has none.
        case identity
        case field(String)
        /// `a.b`, `a[0]` and `a | b`: each step runs on the previous step's result. Kept flat
        /// rather than as nested pairs so long chains do not deepen the tree.
        case chain([Node])
        case index(Int)
        case slice(start: Int?, stop: Int?, step: Int?)
        case literal(JSONValue)
        /// `left[*].right`, `left[start:stop].right` and (over `.flatten`) `left[].right`.
        case listProjection(Node, Node)
        /// `left.*.right`
        case objectProjection(Node, Node)
        /// `left[?condition].right`
        case filterProjection(Node, condition: Node, Node)
        case flatten(Node)
        case multiSelectList([Node])
        case multiSelectHash(keys: [String], values: [Node])
        case or(Node, Node)
        case and(Node, Node)
        case not(Node)
        case comparison(Comparator, Node, Node)
        case function(Function, [Node])
        /// `&expression`: only meaningful as a function argument.
        case expressionReference(Node)

        var isProjection: Bool {
            switch self {
            case .listProjection, .objectProjection, .filterProjection: true
            case .chain(let steps): steps.last?.isProjection ?? false
            default: false
            }
        }
    }

    enum Comparator: Sendable {
        case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    }
}
