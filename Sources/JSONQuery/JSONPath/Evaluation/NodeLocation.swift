/// Where a selected node sits in the document. Evaluation is generic over it so that plain
/// `select` carries nothing (`NoLocation`) and pays nothing for path tracking.
protocol NodeLocation: Sendable {
    func appending(name: String) -> Self
    func appending(index: Int) -> Self
}

struct NoLocation: NodeLocation {
    @inline(__always) func appending(name: String) -> NoLocation { self }
    @inline(__always) func appending(index: Int) -> NoLocation { self }
}

/// A path from the root, built as a persistent list so siblings share their prefix.
indirect enum PathLocation: NodeLocation {
    case root
    case name(PathLocation, String)
    case index(PathLocation, Int)

    func appending(name: String) -> PathLocation { .name(self, name) }
    func appending(index: Int) -> PathLocation { .index(self, index) }

    /// The RFC 9535 normalized path, e.g. `$['store']['book'][0]`.
    var normalizedPath: String {
        var components: [PathLocation] = []
        var cursor = self
        while true {
            switch cursor {
            case .root:
                var out = "$"
                for component in components.reversed() {
                    switch component {
                    case .name(_, let name): out += "['"; Self.appendEscaped(name, to: &out); out += "']"
                    case .index(_, let i): out += "[\(i)]"
                    case .root: break
                    }
                }
                return out
            case .name(let parent, _), .index(let parent, _):
                components.append(cursor)
                cursor = parent
            }
        }
    }

    /// RFC 9535 section 2.7 escaping inside single quotes.
    private static func appendEscaped(_ name: String, to out: inout String) {
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "'": out += "\\'"
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
    }
}

struct LocatedNode<Location: NodeLocation> {
    var value: JSONValue
    var location: Location
}
