extension StringProtocol {
    /// Without leading and trailing spaces and tabs (header values, configuration scalars, HL7
    /// fields); other whitespace is content.
    package var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
