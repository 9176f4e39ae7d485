import Foundation
import HostUtility

/// Types an unquoted scalar the way Hydra's override grammar and OmegaConf's YAML loader agree on:
/// null, booleans (any case), decimal integers and floats (`1e-6`, `5e-7`, `20_000`, `inf`), `???`,
/// else a string. YAML 1.1's yes/no/on/off stay strings (Hydra's overrides read them so too).
public enum ScalarParser {
    public static func parse(_ text: String) -> ConfigValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "???": return .missing
        default: break
        }
        switch text.lowercased() {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf", ".inf", "+.inf": return .double(.infinity)
        case "-inf", "-.inf": return .double(-.infinity)
        case "nan", ".nan": return .double(.nan)
        default: break
        }
        guard let digits = stripUnderscores(text) else { return .string(text) }
        if let int = integer(digits) { return .int(int) }
        if let double = float(digits) { return .double(double) }
        return .string(text)
    }

    /// Removes `_` digit separators; nil if one is not between two digits (then it is a string).
    private static func stripUnderscores(_ text: String) -> String? {
        let chars = Array(text)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c == "_" {
                guard i > 0, i + 1 < chars.count, chars[i - 1].isASCIIDigit, chars[i + 1].isASCIIDigit else { return nil }
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Optional sign then digits, without leading zeros (`007` stays a string, as in Hydra).
    private static func integer(_ s: String) -> Int? {
        var body = Substring(s)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard !body.isEmpty, body.allSatisfy(\.isASCIIDigit) else { return nil }
        if body.count > 1 && body.first == "0" { return nil }
        return Int(s.hasPrefix("+") ? String(s.dropFirst()) : s)
    }

    /// Decimal floats only: digits, one point and/or an exponent (no hex, no bare `e5`).
    private static func float(_ s: String) -> Double? {
        guard s.allSatisfy({ $0.isASCIIDigit || "+-.eE".contains($0) }),
              s.contains(where: \.isASCIIDigit),
              s.contains(where: { ".eE".contains($0) }),
              let first = s.first, first.isASCIIDigit || "+-.".contains(first) else { return nil }
        return Double(s)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Text of scalars when writing YAML, chosen so that reading it back gives the same value.
enum YAMLScalarText {
    static func double(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
        // Swift prints the shortest text that round-trips (5e-07, 10.0, 0.1).
        return "\(d)"
    }

    static func string(_ s: String) -> String {
        canBePlain(s) ? s : quoting.quoted(s)
    }

    private static let quoting = QuotedLiteral(quote: "\"", namesBackspaceAndFormFeed: false, escapesDelete: true,
                                               hexEscape: .uppercaseByte)

    /// Plain only when it reads back as this same string and has no YAML indicator in it.
    private static func canBePlain(_ s: String) -> Bool {
        guard !s.isEmpty, ScalarParser.parse(s) == .string(s) else { return false }
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+()")
        guard s.allSatisfy({ safe.contains($0) }) else { return false }
        // YAML reserves a leading '-' followed by a space only, but keep paths like '-x' simple: quote them.
        return s.first != "-"
    }
}
