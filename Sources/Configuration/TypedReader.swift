import Foundation

/// Reads typed values out of a resolved config mapping, throwing a `typeMismatch` that names the
/// key, the expected type and the value actually found.
struct TypedReader {
    let node: ConfigMapping
    /// Dotted prefix of `node` in the whole tree, for messages (`"loss."`).
    let prefix: String

    private func raw(_ key: String) throws -> ConfigValue {
        guard let v = node[key] else {
            throw ConfigError.typeMismatch(key: prefix + key, expected: "a value", value: "nothing (the key is absent)")
        }
        return v
    }

    private func mismatch(_ key: String, _ expected: String, _ v: ConfigValue) -> ConfigError {
        .typeMismatch(key: prefix + key, expected: expected, value: v.displayText)
    }

    func int(_ key: String) throws -> Int {
        let v = try raw(key)
        guard case let .int(i) = v else { throw mismatch(key, "an integer", v) }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        if try raw(key) == .null { return nil }
        return try int(key)
    }

    func double(_ key: String) throws -> Double {
        let v = try raw(key)
        switch v {
        case let .double(d): return d
        case let .int(i): return Double(i)
        default: throw mismatch(key, "a number", v)
        }
    }

    func bool(_ key: String) throws -> Bool {
        let v = try raw(key)
        guard case let .bool(b) = v else { throw mismatch(key, "true or false", v) }
        return b
    }

    /// Names that happen to look like numbers (`exp_name=2024`) are accepted as their text.
    func string(_ key: String) throws -> String {
        let v = try raw(key)
        switch v {
        case let .string(s): return s
        case .int, .double, .bool: return v.displayText
        default: throw mismatch(key, "a string", v)
        }
    }

    func optionalString(_ key: String) throws -> String? {
        if try raw(key) == .null { return nil }
        return try string(key)
    }

    /// A list of names; a single name counts as a one-element list (`datasets=hh`).
    func stringList(_ key: String) throws -> [String] {
        let v = try raw(key)
        switch v {
        case let .list(items):
            return try items.map { item in
                switch item {
                case let .string(s): return s
                case .int, .double, .bool: return item.displayText
                default: throw mismatch(key, "a list of strings", v)
                }
            }
        case .string, .int: return [v.displayText]
        default: throw mismatch(key, "a list of strings", v)
        }
    }

    func section(_ key: String) throws -> TypedReader {
        let v = try raw(key)
        guard case let .mapping(m) = v else { throw mismatch(key, "a section (mapping)", v) }
        return TypedReader(node: m, prefix: prefix + key + ".")
    }

    func oneOf<T>(_ key: String, _ choices: [(String, T)]) throws -> T {
        let text = try string(key)
        guard let match = choices.first(where: { $0.0 == text }) else {
            throw ConfigError.invalidValue(key: prefix + key, value: text,
                                           reason: "choose one of: " + choices.map(\.0).joined(separator: ", "))
        }
        return match.1
    }

    func positive(_ key: String) throws -> Int {
        let value = try int(key)
        guard value > 0 else { throw ConfigError.invalidValue(key: prefix + key, value: String(value), reason: "must be at least 1") }
        return value
    }

    /// An integer of at least `minimum`.
    func int(_ key: String, atLeast minimum: Int) throws -> Int {
        let value = try int(key)
        guard value >= minimum else {
            throw ConfigError.invalidValue(key: prefix + key, value: String(value), reason: "must be at least \(minimum)")
        }
        return value
    }

    /// Null, or an integer of at least `minimum`.
    func optionalInt(_ key: String, atLeast minimum: Int) throws -> Int? {
        if try raw(key) == .null { return nil }
        return try int(key, atLeast: minimum)
    }

    /// As `finite`, or nil when null.
    func optionalFinite(_ key: String, in range: ClosedRange<Double>, above: Bool = false) throws -> Double? {
        if try raw(key) == .null { return nil }
        return try finite(key, in: range, above: above)
    }

    /// A finite number in `range`; `above` excludes its lower end (`max_grad_norm` > 0). Messages
    /// show the value as written (`-1`, `.nan`).
    func finite(_ key: String, in range: ClosedRange<Double>, above: Bool = false) throws -> Double {
        let value = try double(key)
        let text = try raw(key).displayText
        guard value.isFinite else { throw ConfigError.invalidValue(key: prefix + key, value: text, reason: "must be a finite number") }
        guard range.contains(value), !(above && value == range.lowerBound) else {
            let low = String(format: "%g", range.lowerBound), high = String(format: "%g", range.upperBound)
            let reason = range.upperBound == .greatestFiniteMagnitude
                ? (above ? "must be above \(low)" : "must be at least \(low)")
                : (above ? "must be above \(low) and at most \(high)" : "must be between \(low) and \(high)")
            throw ConfigError.invalidValue(key: prefix + key, value: text, reason: reason)
        }
        return value
    }
}
