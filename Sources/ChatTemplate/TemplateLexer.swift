/// What went wrong with a template: its syntax, a name it misuses, or `raise_exception`.
public enum TemplateError: Error, CustomStringConvertible, Equatable {
    /// The template cannot be parsed; `line` is 1-based.
    case syntax(String, line: Int)
    /// Rendering failed (an undefined name used, a wrong type, an unknown filter).
    case render(String)
    /// The template called `raise_exception(message)`: its own words.
    case raised(String)
    case json(String)
    /// The conversation cannot be rendered at all (transformers' ValueError).
    case conversation(String)

    public var description: String {
        switch self {
        case let .syntax(m, line): return "template syntax error on line \(line): \(m)"
        case let .render(m): return "template error: \(m)"
        case let .raised(m): return m
        case let .json(m): return "invalid JSON: \(m)"
        case let .conversation(m): return m
        }
    }
}

/// A piece of template source: text to copy, an expression `{{ }}` or a statement `{% %}`.
enum TemplatePiece: Equatable {
    case text(String)
    case expression(String, line: Int)
    case statement(String, line: Int)
}

/// Splits a template into pieces with Jinja2's whitespace rules as transformers configures
/// them: `trim_blocks` (the newline after a block tag goes), `lstrip_blocks` (spaces and tabs
/// before a block tag on its line go, unless it opens with `{%+`), and `-` on either side of a
/// tag strips all whitespace on that side. Comments `{# #}` are dropped like block tags.
enum TemplateLexer {
    static func pieces(_ source: String) throws -> [TemplatePiece] {
        let s = Array(source.unicodeScalars)
        var out: [TemplatePiece] = []
        var text = String.UnicodeScalarView()
        var i = 0, line = 1
        var stripNextLeading = false
        var trimNextNewline = false
        func flushText() {
            if !text.isEmpty { out.append(.text(String(text))); text.removeAll() }
        }
        while i < s.count {
            let c = s[i]
            if c == "{", i + 1 < s.count, ["{", "%", "#"].contains(s[i + 1]) {
                let kind = s[i + 1]
                let startLine = line
                var j = i + 2
                var leftStrip = false, noLStrip = false
                if j < s.count, s[j] == "-" { leftStrip = true; j += 1 } else if j < s.count, s[j] == "+" { noLStrip = true; j += 1 }
                let close: Unicode.Scalar = kind == "{" ? "}" : kind
                // Find the closing delimiter, skipping string literals inside expressions.
                var k = j
                var quote: Unicode.Scalar?
                var found = -1
                while k < s.count {
                    let ch = s[k]
                    if ch == "\n" { line += 1 }
                    if let q = quote {
                        if ch == "\\" { k += 2; continue }
                        if ch == q { quote = nil }
                    } else if kind != "#" && (ch == "'" || ch == "\"") {
                        quote = ch
                    } else if ch == close, k + 1 < s.count, s[k + 1] == "}" {
                        found = k
                        break
                    }
                    k += 1
                }
                guard found >= 0 else {
                    throw TemplateError.syntax("unclosed \(kind == "{" ? "{{" : kind == "%" ? "{%" : "{#")", line: startLine)
                }
                var inner = Array(s[j..<found])
                var rightStrip = false
                if let last = inner.last, last == "-" { rightStrip = true; inner.removeLast() }
                let isBlock = kind != "{"
                // Whitespace before the tag.
                if leftStrip {
                    while let last = text.last, last.properties.isWhitespace { text.removeLast() }
                } else if isBlock && !noLStrip {
                    // Only when the tag is the first thing on its line in the source.
                    var x = i - 1, lead = 0
                    while x >= 0, s[x] == " " || s[x] == "\t" { x -= 1; lead += 1 }
                    if x < 0 || s[x] == "\n" {
                        while lead > 0, let last = text.last, last == " " || last == "\t" { text.removeLast(); lead -= 1 }
                    }
                }
                flushText()
                let body = String(String.UnicodeScalarView(inner))
                switch kind {
                case "{": out.append(.expression(body, line: startLine))
                case "%": out.append(.statement(body, line: startLine))
                default: break
                }
                i = found + 2
                stripNextLeading = rightStrip
                trimNextNewline = isBlock && !rightStrip
                if stripNextLeading {
                    while i < s.count, s[i].properties.isWhitespace { if s[i] == "\n" { line += 1 }; i += 1 }
                } else if trimNextNewline {
                    if i < s.count, s[i] == "\n" { i += 1; line += 1 }
                    else if i + 1 < s.count, s[i] == "\r", s[i + 1] == "\n" { i += 2; line += 1 }
                }
                continue
            }
            if c == "\n" { line += 1 }
            text.append(c)
            i += 1
        }
        flushText()
        return out
    }
}

/// A token of an expression inside `{{ }}` or `{% %}`.
enum ExpressionToken: Equatable {
    case name(String)
    case string(String)
    case int(Int)
    case double(Double)
    case op(String)
}

enum ExpressionLexer {
    static let operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "(", ")", "[", "]",
                            "{", "}", ",", ".", ":", "|", "="]

    static func tokens(_ source: String, line: Int) throws -> [ExpressionToken] {
        let s = Array(source.unicodeScalars)
        var out: [ExpressionToken] = []
        var i = 0
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            if c == "'" || c == "\"" {
                var j = i + 1
                var value = String.UnicodeScalarView()
                var closed = false
                while j < s.count {
                    let ch = s[j]
                    if ch == c { closed = true; break }
                    if ch == "\\", j + 1 < s.count {
                        j += 1
                        switch s[j] {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "0": value.append("\0")
                        case "\\", "'", "\"": value.append(s[j])
                        case "u", "x", "U":
                            let width = s[j] == "x" ? 2 : s[j] == "u" ? 4 : 8
                            let hex = String(String.UnicodeScalarView(s[(j + 1)..<min(s.count, j + 1 + width)]))
                            guard hex.count == width, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                                throw TemplateError.syntax("invalid escape in a string literal", line: line)
                            }
                            value.append(scalar)
                            j += width
                        case "\n": break
                        default: value.append("\\"); value.append(s[j])
                        }
                        j += 1
                        continue
                    }
                    value.append(ch)
                    j += 1
                }
                guard closed else { throw TemplateError.syntax("unterminated string literal", line: line) }
                out.append(.string(String(value)))
                i = j + 1
                continue
            }
            if c.properties.numericType != nil && ("0"..."9").contains(c) {
                var j = i
                while j < s.count, ("0"..."9").contains(s[j]) || s[j] == "_" { j += 1 }
                var isFloat = false
                if j + 1 < s.count, s[j] == ".", ("0"..."9").contains(s[j + 1]) {
                    isFloat = true
                    j += 1
                    while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
                }
                if j < s.count, s[j] == "e" || s[j] == "E" {
                    isFloat = true
                    j += 1
                    if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
                    while j < s.count, ("0"..."9").contains(s[j]) { j += 1 }
                }
                let text = String(String.UnicodeScalarView(s[i..<j])).replacingOccurrences(of: "_", with: "")
                if isFloat { out.append(.double(Double(text) ?? 0)) } else {
                    guard let n = Int(text) else { throw TemplateError.syntax("number \(text) out of range", line: line) }
                    out.append(.int(n))
                }
                i = j
                continue
            }
            if c == "_" || c.properties.isAlphabetic {
                var j = i
                while j < s.count, s[j] == "_" || s[j].properties.isAlphabetic || ("0"..."9").contains(s[j]) { j += 1 }
                out.append(.name(String(String.UnicodeScalarView(s[i..<j]))))
                i = j
                continue
            }
            if let op = operators.first(where: { op in
                let o = Array(op.unicodeScalars)
                return i + o.count <= s.count && Array(s[i..<(i + o.count)]) == o
            }) {
                out.append(.op(op))
                i += op.unicodeScalars.count
                continue
            }
            throw TemplateError.syntax("unexpected character '\(c)'", line: line)
        }
        return out
    }
}
