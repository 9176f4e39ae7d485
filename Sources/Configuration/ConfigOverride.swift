import Foundation

/// One command-line override in Hydra's grammar: `key=value`, `a.b.c=value`, `+new_key=value`
/// (add a key the config does not have) or `++key=value` (set or add).
public struct ConfigOverride: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// `key=value`: the key must exist (or be a config group such as `model`).
        case set
        /// `+key=value`: the key must not exist yet.
        case add
        /// `++key=value`: set if present, add if not.
        case upsert
    }

    public let action: Action
    public let path: [String]
    public let value: ConfigValue
    /// The argument as given, for messages.
    public let argument: String

    public var key: String { path.joined(separator: ".") }

    public init(action: Action, path: [String], value: ConfigValue, argument: String) {
        self.action = action
        self.path = path
        self.value = value
        self.argument = argument
    }

    public init(parsing argument: String) throws {
        if argument.hasPrefix("~") {
            throw ConfigError.malformedOverride(argument: argument, reason: "deleting keys (~key) is not supported")
        }
        guard let eq = argument.firstIndex(of: "=") else {
            let reason = argument.hasPrefix("-")
                ? "options are not overrides; expected key=value"
                : "expected key=value (e.g. \(argument)=...)"
            throw ConfigError.malformedOverride(argument: argument, reason: reason)
        }
        var keyText = Substring(argument[..<eq])
        let valueText = String(argument[argument.index(after: eq)...])
        if keyText.hasPrefix("++") {
            action = .upsert; keyText = keyText.dropFirst(2)
        } else if keyText.hasPrefix("+") {
            action = .add; keyText = keyText.dropFirst()
        } else {
            action = .set
        }
        let components = keyText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        for component in components where component.isEmpty || !component.allSatisfy({ allowed.contains($0) }) {
            let reason = keyText.contains("/") || keyText.contains("@")
                ? "config group paths and packages (a/b, @pkg) are not supported"
                : "'\(keyText)' is not a valid key (letters, digits, '_' and '-', dot-separated)"
            throw ConfigError.malformedOverride(argument: argument, reason: reason)
        }
        path = components
        do {
            value = try OverrideValueParser.parse(valueText)
        } catch let OverrideValueParser.Failure.message(reason) {
            throw ConfigError.malformedOverride(argument: argument, reason: reason)
        }
        self.argument = argument
    }
}

/// The value side of an override: `[a,b]` lists, `{k:v}` mappings, quoted strings, and bare
/// primitives typed like unquoted YAML scalars. `${...}` interpolations are kept as text.
/// A bare top-level comma is Hydra's sweep syntax, which needs `--multirun`; here it is an error.
struct OverrideValueParser {
    enum Failure: Error { case message(String) }

    private let chars: [Character]
    private var i = 0

    static func parse(_ text: String) throws -> ConfigValue {
        var parser = OverrideValueParser(chars: Array(text))
        // `key=` sets the empty string, as in Hydra.
        if text.isEmpty { return .string("") }
        let value = try parser.element(terminators: [","])
        parser.skipSpaces()
        if parser.i < parser.chars.count {
            if parser.chars[parser.i] == "," {
                throw Failure.message("a bare comma means a Hydra sweep, which dpohost does not run; use [a,b] for a list or quote the value")
            }
            throw Failure.message("unexpected '\(String(parser.chars[parser.i...]))'")
        }
        return value
    }

    private init(chars: [Character]) { self.chars = chars }

    private mutating func skipSpaces() {
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
    }

    private mutating func element(terminators: Set<Character>) throws -> ConfigValue {
        skipSpaces()
        guard i < chars.count else { throw Failure.message("a value is missing") }
        switch chars[i] {
        case "[": return try list()
        case "{": return try mapping()
        case "'", "\"":
            let s = try quoted()
            skipSpaces()
            return .string(s)
        default:
            let text = try primitive(terminators: terminators)
            if text.isEmpty { throw Failure.message("a value is missing") }
            return text.contains("${") ? .string(text) : ScalarParser.parse(text)
        }
    }

    private mutating func list() throws -> ConfigValue {
        var items: [ConfigValue] = []
        try bracketed(close: "]", name: "a list") { items.append(try $0.element(terminators: [",", "]"])) }
        return .list(items)
    }

    private mutating func mapping() throws -> ConfigValue {
        var out = ConfigMapping()
        try bracketed(close: "}", name: "a mapping") { parser in
            parser.skipSpaces()
            let key = try parser.primitive(terminators: [":", ",", "}"])
            guard !key.isEmpty, parser.i < parser.chars.count, parser.chars[parser.i] == ":" else {
                throw Failure.message("expected key:value in a mapping")
            }
            parser.i += 1
            out[key] = try parser.element(terminators: [",", "}"])
        }
        return .mapping(out)
    }

    /// The comma-separated entries from the opening bracket at `i` to `close`, each read by `entry`.
    private mutating func bracketed(close: Character, name: String,
                                    _ entry: (inout OverrideValueParser) throws -> Void) throws {
        let open = chars[i]
        i += 1
        skipSpaces()
        if i < chars.count, chars[i] == close { i += 1; return }
        while true {
            try entry(&self)
            skipSpaces()
            guard i < chars.count else { throw Failure.message("unclosed '\(open)'") }
            if chars[i] == close { i += 1; return }
            guard chars[i] == "," else { throw Failure.message("expected ',' or '\(close)' in \(name)") }
            i += 1
        }
    }

    /// A quoted string; a backslash escapes the quote character and itself.
    private mutating func quoted() throws -> String {
        let quote = chars[i]
        i += 1
        var out = ""
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1] == quote || chars[i + 1] == "\\" {
                out.append(chars[i + 1]); i += 2; continue
            }
            if c == quote { i += 1; return out }
            out.append(c); i += 1
        }
        throw Failure.message("unclosed quote \(quote)")
    }

    /// Bare text up to a terminator, trimmed. `${...}` is copied whole (its commas and colons
    /// belong to it); a backslash makes the next special character literal (`a\,b`).
    private mutating func primitive(terminators: Set<Character>) throws -> String {
        var out = ""
        while i < chars.count {
            let c = chars[i]
            if terminators.contains(c) { break }
            if c == "\\", i + 1 < chars.count, ",[]{}:\\ ".contains(chars[i + 1]) {
                out.append(chars[i + 1]); i += 2; continue
            }
            if c == "$", i + 1 < chars.count, chars[i + 1] == "{" {
                out.append("$"); i += 1
                var depth = 0
                repeat {
                    if chars[i] == "{" { depth += 1 } else if chars[i] == "}" { depth -= 1 }
                    out.append(chars[i]); i += 1
                } while i < chars.count && depth > 0
                if depth > 0 { throw Failure.message("unclosed '${'") }
                continue
            }
            if "[]{}".contains(c) { throw Failure.message("unexpected '\(c)'; quote the value if it is text") }
            out.append(c); i += 1
        }
        return out.trimmingCharacters(in: .whitespaces)
    }
}
