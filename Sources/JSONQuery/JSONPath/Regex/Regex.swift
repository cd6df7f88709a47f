/// A compiled regular expression, matched by simulating its NFA over Unicode scalars.
///
/// Filters only ask "does it match", never for groups, so a Thompson-style simulation is enough:
/// time is linear in the input for every pattern, which keeps hostile patterns from stalling a
/// message pipeline the way a backtracking engine can.
struct Regex: Sendable {
    enum Instruction: Sendable {
        case scalar(Unicode.Scalar)
        /// Compares case-insensitively; the operand is lowercased at compile time.
        case foldedScalar(Unicode.Scalar)
        case dot
        case set(Int)
        case split(Int, Int)
        case jump(Int)
        case assertion(RegexAssertion)
        case match
    }

    let program: [Instruction]
    let sets: [RegexCharacterSet]
    let syntax: RegexSyntax
    let options: RegexOptions

    /// Bounds program size after `{n,m}` expansion.
    static let maximumInstructions = 50_000

    init(_ pattern: String, syntax: RegexSyntax, options: RegexOptions = []) throws(RegexError) {
        var parser = RegexParser(pattern, syntax: syntax, options: options)
        let tree = try parser.parse()
        var compiler = Compiler(options: options)
        try compiler.emit(tree)
        compiler.program.append(.match)
        self.program = compiler.program
        self.sets = compiler.sets
        self.syntax = syntax
        self.options = options
    }

    /// True when the whole string matches (I-Regexp `match()`).
    func matchesWhole(_ string: String) -> Bool { run(string, anywhere: false) }

    /// True when some substring matches (I-Regexp `search()`, .NET `Regex.IsMatch`).
    func matchesAnywhere(_ string: String) -> Bool { run(string, anywhere: true) }

    private struct Compiler {
        let options: RegexOptions
        var program: [Instruction] = []
        var sets: [RegexCharacterSet] = []

        init(options: RegexOptions) { self.options = options }

        mutating func emit(_ node: RegexNode) throws(RegexError) {
            guard program.count < Regex.maximumInstructions else {
                throw RegexError(message: "pattern too large after expanding repetitions", offset: 0)
            }
            switch node {
            case .empty:
                break
            case .scalar(let s):
                if options.contains(.ignoreCase) {
                    program.append(.foldedScalar(RegexCaseFolding.lowercase(s)))
                } else {
                    program.append(.scalar(s))
                }
            case .dot:
                program.append(.dot)
            case .set(let set):
                sets.append(set)
                program.append(.set(sets.count - 1))
            case .assertion(let a):
                program.append(.assertion(a))
            case .concatenation(let items):
                for item in items { try emit(item) }
            case .alternation(let branches):
                var jumps: [Int] = []
                for (i, branch) in branches.enumerated() {
                    if i < branches.count - 1 {
                        let split = program.count
                        program.append(.split(split + 1, 0))
                        try emit(branch)
                        jumps.append(program.count)
                        program.append(.jump(0))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try emit(branch)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .repetition(let body, let min, let max):
                for _ in 0..<min { try emit(body) }
                if let max {
                    var splits: [Int] = []
                    for _ in min..<max {
                        splits.append(program.count)
                        program.append(.split(program.count + 1, 0))
                        try emit(body)
                    }
                    for s in splits { program[s] = .split(s + 1, program.count) }
                } else {
                    let loop = program.count
                    program.append(.split(loop + 1, 0))
                    try emit(body)
                    program.append(.jump(loop))
                    program[loop] = .split(loop + 1, program.count)
                }
            }
        }
    }

    // MARK: - Simulation

    /// The scalars around a position, which assertions look at.
    private struct Context {
        var previous: Unicode.Scalar?
        var current: Unicode.Scalar?
        var next: Unicode.Scalar?
    }

    /// A set of program counters with O(1) insert and clear.
    private struct ThreadList {
        var pcs: [Int]
        var count = 0
        var marks: [UInt32]
        var generation: UInt32 = 1

        init(size: Int) {
            pcs = Array(repeating: 0, count: size)
            marks = Array(repeating: 0, count: size)
        }

        mutating func clear() {
            count = 0
            generation &+= 1
            if generation == 0 {
                for i in marks.indices { marks[i] = 0 }
                generation = 1
            }
        }

        /// Marks `pc` as visited; false when it already was in this step.
        mutating func visit(_ pc: Int) -> Bool {
            if marks[pc] == generation { return false }
            marks[pc] = generation
            return true
        }

        mutating func append(_ pc: Int) {
            pcs[count] = pc
            count += 1
        }
    }

    private func run(_ string: String, anywhere: Bool) -> Bool {
        let scalars = string.unicodeScalars
        var current = ThreadList(size: program.count)
        var next = ThreadList(size: program.count)
        var stack: [Int] = []
        var index = scalars.startIndex
        var context = Context(previous: nil, current: nil, next: nil)
        if index < scalars.endIndex {
            context.current = scalars[index]
            let after = scalars.index(after: index)
            if after < scalars.endIndex { context.next = scalars[after] }
        }
        addThread(0, to: &current, context: context, stack: &stack)
        while true {
            let atEnd = index == scalars.endIndex
            var nextContext = Context(previous: context.current, current: context.next, next: nil)
            if !atEnd {
                let after = scalars.index(after: index)
                if after < scalars.endIndex {
                    let afterAfter = scalars.index(after: after)
                    if afterAfter < scalars.endIndex { nextContext.next = scalars[afterAfter] }
                }
            }
            for t in 0..<current.count {
                let pc = current.pcs[t]
                switch program[pc] {
                case .match:
                    if anywhere || atEnd { return true }
                case .scalar(let s):
                    if let c = context.current, c == s {
                        addThread(pc + 1, to: &next, context: nextContext, stack: &stack)
                    }
                case .foldedScalar(let s):
                    if let c = context.current, c == s || RegexCaseFolding.lowercase(c) == s {
                        addThread(pc + 1, to: &next, context: nextContext, stack: &stack)
                    }
                case .dot:
                    if let c = context.current, matchesDot(c) {
                        addThread(pc + 1, to: &next, context: nextContext, stack: &stack)
                    }
                case .set(let i):
                    if let c = context.current, sets[i].contains(c, ignoreCase: options.contains(.ignoreCase)) {
                        addThread(pc + 1, to: &next, context: nextContext, stack: &stack)
                    }
                case .split, .jump, .assertion:
                    break
                }
            }
            if atEnd { return false }
            index = scalars.index(after: index)
            context = nextContext
            swap(&current, &next)
            next.clear()
            if anywhere {
                addThread(0, to: &current, context: context, stack: &stack)
            } else if current.count == 0 {
                return false
            }
        }
    }

    private func matchesDot(_ c: Unicode.Scalar) -> Bool {
        switch syntax {
        case .iRegexp: return c != "\n" && c != "\r"
        case .dotNet: return c != "\n" || options.contains(.singleline)
        }
    }

    /// Adds `pc` and everything reachable from it without consuming input.
    private func addThread(_ start: Int, to list: inout ThreadList, context: Context, stack: inout [Int]) {
        stack.removeAll(keepingCapacity: true)
        stack.append(start)
        while let pc = stack.popLast() {
            guard list.visit(pc) else { continue }
            switch program[pc] {
            case .jump(let target):
                stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .assertion(let a):
                if holds(a, context) { stack.append(pc + 1) }
            default:
                list.append(pc)
            }
        }
    }

    private func holds(_ assertion: RegexAssertion, _ c: Context) -> Bool {
        switch assertion {
        case .textStart: return c.previous == nil
        case .textEnd: return c.current == nil
        case .textEndOrFinalNewline: return c.current == nil || (c.current == "\n" && c.next == nil)
        case .lineStart: return c.previous == nil || c.previous == "\n"
        case .lineEnd: return c.current == nil || c.current == "\n"
        case .wordBoundary, .notWordBoundary:
            let before = c.previous.map(RegexCharacterSet.isWord) ?? false
            let after = c.current.map(RegexCharacterSet.isWord) ?? false
            return (before != after) == (assertion == .wordBoundary)
        }
    }
}
