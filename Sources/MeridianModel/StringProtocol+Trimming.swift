extension StringProtocol {
    /// The text without leading and trailing blanks: tabs and spaces (Unicode category Zs, and U+200B), the set of
    /// Foundation's `trimmingCharacters(in: .whitespaces)`, which FoundationEssentials does not have.
    public func trimmingWhitespace() -> String {
        trimming(where: Self.isWhitespace)
    }

    /// The text without leading and trailing blanks and line breaks (Unicode categories Z*, U+0009...U+000D,
    /// U+0085 and U+200B): the set of Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmingWhitespaceAndNewlines() -> String {
        trimming(where: Self.isWhitespaceOrNewline)
    }

    private func trimming(where isBlank: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
              let last = scalars.lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }

    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\u{200B}" || scalar.properties.generalCategory == .spaceSeparator
    }

    private static func isWhitespaceOrNewline(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
        default: return (0x09...0x0D).contains(scalar.value) || scalar.value == 0x85 || scalar.value == 0x200B
        }
    }
}
