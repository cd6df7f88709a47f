/// A bracketed class, a `\p{..}` category or a `\d \w \s` shorthand.
struct RegexCharacterSet: Sendable {
    enum Item: Sendable {
        case range(UInt32, UInt32)
        case category([Unicode.GeneralCategory], negated: Bool)
        case digit(negated: Bool)
        case word(negated: Bool)
        case space(negated: Bool)
    }

    var items: [Item]
    var negated: Bool

    func contains(_ scalar: Unicode.Scalar, ignoreCase: Bool) -> Bool {
        var found = containsExactly(scalar)
        if !found && ignoreCase {
            let lower = RegexCaseFolding.lowercase(scalar)
            let upper = RegexCaseFolding.uppercase(scalar)
            found = (lower != scalar && containsExactly(lower)) || (upper != scalar && containsExactly(upper))
        }
        return found != negated
    }

    private func containsExactly(_ scalar: Unicode.Scalar) -> Bool {
        for item in items where Self.matches(item, scalar) { return true }
        return false
    }

    private static func matches(_ item: Item, _ scalar: Unicode.Scalar) -> Bool {
        switch item {
        case .range(let low, let high):
            return scalar.value >= low && scalar.value <= high
        case .category(let categories, let negated):
            return categories.contains(scalar.properties.generalCategory) != negated
        case .digit(let negated):
            return (scalar.properties.generalCategory == .decimalNumber) != negated
        case .word(let negated):
            return isWord(scalar) != negated
        case .space(let negated):
            let isSpace: Bool
            switch scalar.value {
            case 0x09...0x0D, 0x20, 0x85: isSpace = true
            default:
                switch scalar.properties.generalCategory {
                case .spaceSeparator, .lineSeparator, .paragraphSeparator: isSpace = true
                default: isSpace = false
                }
            }
            return isSpace != negated
        }
    }

    /// .NET `\w`: letters, non-spacing and spacing marks, decimal digits, connector punctuation.
    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }

    /// The categories of a `\p{name}`; nil for an unknown name.
    static func categories(named name: String, syntax: RegexSyntax) -> [Unicode.GeneralCategory]? {
        switch name {
        case "L": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
        case "Lu": [.uppercaseLetter]
        case "Ll": [.lowercaseLetter]
        case "Lt": [.titlecaseLetter]
        case "Lm": [.modifierLetter]
        case "Lo": [.otherLetter]
        case "M": [.nonspacingMark, .spacingMark, .enclosingMark]
        case "Mn": [.nonspacingMark]
        case "Mc": [.spacingMark]
        case "Me": [.enclosingMark]
        case "N": [.decimalNumber, .letterNumber, .otherNumber]
        case "Nd": [.decimalNumber]
        case "Nl": [.letterNumber]
        case "No": [.otherNumber]
        case "P": [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                   .initialPunctuation, .finalPunctuation, .otherPunctuation]
        case "Pc": [.connectorPunctuation]
        case "Pd": [.dashPunctuation]
        case "Ps": [.openPunctuation]
        case "Pe": [.closePunctuation]
        case "Pi": [.initialPunctuation]
        case "Pf": [.finalPunctuation]
        case "Po": [.otherPunctuation]
        case "Z": [.spaceSeparator, .lineSeparator, .paragraphSeparator]
        case "Zs": [.spaceSeparator]
        case "Zl": [.lineSeparator]
        case "Zp": [.paragraphSeparator]
        case "S": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
        case "Sm": [.mathSymbol]
        case "Sc": [.currencySymbol]
        case "Sk": [.modifierSymbol]
        case "So": [.otherSymbol]
        case "C": [.control, .format, .privateUse, .unassigned] + (syntax == .dotNet ? [.surrogate] : [])
        case "Cc": [.control]
        case "Cf": [.format]
        case "Co": [.privateUse]
        case "Cn": [.unassigned]
        case "Cs" where syntax == .dotNet: [.surrogate]
        default: nil
        }
    }
}

/// Simple one-to-one case mapping, enough for `i` flag matching.
enum RegexCaseFolding {
    static func lowercase(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if s.isASCII {
            return s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(UInt8(s.value + 32)) : s
        }
        return single(s.properties.lowercaseMapping) ?? s
    }

    static func uppercase(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if s.isASCII {
            return s.value >= 0x61 && s.value <= 0x7A ? Unicode.Scalar(UInt8(s.value - 32)) : s
        }
        return single(s.properties.uppercaseMapping) ?? s
    }

    private static func single(_ mapping: String) -> Unicode.Scalar? {
        var iterator = mapping.unicodeScalars.makeIterator()
        guard let first = iterator.next(), iterator.next() == nil else { return nil }
        return first
    }
}
