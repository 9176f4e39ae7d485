/// GPT-2's pre-tokenization pattern, hand-written over Unicode scalars:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// `\p{L}`/`\p{N}` are the general categories L* and N*; `\s` is the Unicode White_Space
/// property (what Python's `regex` and Oniguruma, used by Hugging Face tokenizers, match).
struct GPT2PreTokenizer: Sendable {
    private enum CharacterClass {
        case letter, number, whitespace, other
    }

    /// Splits `scalars` into consecutive pieces, returned as index ranges.
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(Self.characterClass)
        var pieces: [Range<Int>] = []
        var start = 0
        while start < scalars.count {
            let end = contractionEnd(scalars, at: start) ?? runEnd(scalars, classes, at: start)
            pieces.append(start..<end)
            start = end
        }
        return pieces
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` (lowercase only, as in the pattern).
    private func contractionEnd(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        guard s[i] == "'", i + 1 < s.count else { return nil }
        switch s[i + 1] {
        case "s", "t", "m", "d":
            return i + 2
        case "r", "v":
            return i + 2 < s.count && s[i + 2] == "e" ? i + 3 : nil
        case "l":
            return i + 2 < s.count && s[i + 2] == "l" ? i + 3 : nil
        default:
            return nil
        }
    }

    private func runEnd(_ s: [Unicode.Scalar], _ classes: [CharacterClass], at i: Int) -> Int {
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional single space, then a run of
        // one class.
        let runStart = s[i] == " " && i + 1 < s.count && classes[i + 1] != .whitespace ? i + 1 : i
        let runClass = classes[runStart]
        var end = runStart + 1
        while end < s.count && classes[end] == runClass {
            end += 1
        }
        guard runClass == .whitespace else { return end }
        // `\s+(?!\S)` leaves the last whitespace before a non-space for the next piece (where a
        // space joins the word); a single whitespace before a non-space falls to `\s+`.
        if end < s.count && end - i >= 2 {
            return end - 1
        }
        return end
    }

    private static func characterClass(_ scalar: Unicode.Scalar) -> CharacterClass {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return properties.isWhitespace ? .whitespace : .other
        }
    }
}
