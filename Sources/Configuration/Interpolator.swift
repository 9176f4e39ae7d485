import Foundation

/// Resolves OmegaConf interpolations left in the composed tree: `${a.b}` (absolute key
/// references), `${oc.env:NAME,default}`, and the reference's `${get_local_run_dir:exp,dirs}`
/// resolver for `local_run_dir`. A string that is exactly one `${...}` takes the referenced
/// value's type; otherwise the pieces are joined as text.
struct Interpolator {
    let root: ConfigValue
    let environment: ConfigEnvironment
    /// Braces nested inside one interpolation (`${oc.env:A,${oc.env:B,x}}` is 2).
    static let maximumNesting = 16
    /// Keys resolved through one another for one value (`a: ${b}`, `b: ${c}`, ... is a chain).
    static let maximumChain = 64

    func resolveAll() throws -> ConfigValue {
        try resolve(root, path: [], stack: [])
    }

    private func resolve(_ node: ConfigValue, path: [String], stack: [String]) throws -> ConfigValue {
        switch node {
        case let .string(s) where s.contains("${"):
            return try evaluate(s, key: path.joined(separator: "."), stack: stack)
        case let .list(items):
            return .list(try items.enumerated().map { try resolve($0.element, path: path + ["\($0.offset)"], stack: stack) })
        case let .mapping(m):
            var out = ConfigMapping()
            for (k, v) in m.entries { out[k] = try resolve(v, path: path + [k], stack: stack) }
            return .mapping(out)
        default:
            return node
        }
    }

    private func evaluate(_ text: String, key: String, stack: [String]) throws -> ConfigValue {
        let pieces = try split(text, key: key)
        if pieces.count == 1, case let .expression(inner) = pieces[0] {
            return try expression(inner, key: key, stack: stack)
        }
        var out = ""
        for piece in pieces {
            switch piece {
            case let .literal(s): out += s
            case let .expression(inner): out += try expression(inner, key: key, stack: stack).displayText
            }
        }
        return .string(out)
    }

    private enum Piece { case literal(String), expression(String) }

    /// Splits text into literal runs and the insides of top-level `${...}`.
    private func split(_ text: String, key: String) throws -> [Piece] {
        let chars = Array(text)
        var pieces: [Piece] = []
        var literal = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" {
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                var depth = 1, j = i + 2
                while j < chars.count, depth > 0 {
                    if chars[j] == "{" { depth += 1 } else if chars[j] == "}" { depth -= 1 }
                    // Each level is one more evaluation of the inside: the input must not set the depth.
                    guard depth <= Self.maximumNesting else {
                        throw ConfigError.interpolation(key: key, reason: "'${' nested more than \(Self.maximumNesting) levels deep")
                    }
                    j += 1
                }
                guard depth == 0 else { throw ConfigError.interpolation(key: key, reason: "unclosed '${' in '\(text)'") }
                pieces.append(.expression(String(chars[(i + 2)..<(j - 1)])))
                i = j
            } else {
                literal.append(chars[i]); i += 1
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    private func expression(_ inner: String, key: String, stack: [String]) throws -> ConfigValue {
        let (name, args) = splitResolver(inner)
        guard let name else { return try reference(inner.trimmingCharacters(in: .whitespaces), key: key, stack: stack) }
        let values = try args.map { arg -> ConfigValue in
            arg.contains("${") ? try evaluate(arg, key: key, stack: stack) : ScalarParser.parse(arg)
        }
        switch name {
        case "get_local_run_dir":
            guard values.count == 2, case let .list(dirs) = values[1] else {
                throw ConfigError.interpolation(key: key, reason: "get_local_run_dir takes an experiment name and a list of directories")
            }
            return .string(try RunDirectory.path(expName: values[0].displayText, localDirs: dirs.map(\.displayText),
                                                 environment: environment))
        case "oc.env":
            guard let variable = values.first?.displayText else {
                throw ConfigError.interpolation(key: key, reason: "oc.env needs a variable name")
            }
            if let value = environment.variables[variable] { return .string(value) }
            if values.count > 1 { return values[1] }
            throw ConfigError.interpolation(key: key, reason: "environment variable \(variable) is not set")
        default:
            throw ConfigError.interpolation(key: key, reason: "unknown resolver '\(name)' (supported: get_local_run_dir, oc.env)")
        }
    }

    /// `name:arg1,arg2` → resolver name and arguments (split at top-level commas); a plain key → nil.
    private func splitResolver(_ inner: String) -> (String?, [String]) {
        var depth = 0
        var colon: String.Index?
        for idx in inner.indices {
            let c = inner[idx]
            if c == "{" { depth += 1 } else if c == "}" { depth -= 1 }
            else if c == ":", depth == 0 { colon = idx; break }
        }
        guard let colon else { return (nil, []) }
        let name = inner[..<colon].trimmingCharacters(in: .whitespaces)
        var args: [String] = [], current = ""
        depth = 0
        for c in inner[inner.index(after: colon)...] {
            if c == "{" { depth += 1 } else if c == "}" { depth -= 1 }
            if c == ",", depth == 0 { args.append(current.trimmingCharacters(in: .whitespaces)); current = "" }
            else { current.append(c) }
        }
        args.append(current.trimmingCharacters(in: .whitespaces))
        return (name, args)
    }

    private func reference(_ target: String, key: String, stack: [String]) throws -> ConfigValue {
        if target.hasPrefix(".") {
            throw ConfigError.interpolation(key: key, reason: "relative interpolation '${\(target)}' is not supported; use the full key")
        }
        if stack.contains(target) {
            throw ConfigError.interpolation(key: key, reason: "interpolation cycle: " + (stack + [target]).joined(separator: " -> "))
        }
        guard stack.count < Self.maximumChain else {
            throw ConfigError.interpolation(key: key, reason: "references chained more than \(Self.maximumChain) deep (from '${\(stack[0])}')")
        }
        guard let value = root.value(at: target.split(separator: ".").map(String.init)) else {
            throw ConfigError.interpolation(key: key, reason: "'${\(target)}' refers to an unknown key")
        }
        return try resolve(value, path: target.split(separator: ".").map(String.init), stack: stack + [target])
    }
}
