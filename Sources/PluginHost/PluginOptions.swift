import Foundation
import HostUtility

/// A typed option value, parsed from the text a user wrote (CLI override or YAML scalar).
public enum OptionValue: Equatable, Sendable {
    case int(Int64), float(Double), bool(Bool), string(String), list([String])

    /// `nil` when `text` is not a valid value of `type`.
    public static func parse(_ text: String, as type: OptionType) -> OptionValue? {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case .int: return Int64(t).map { .int($0) }
        case .float: return Double(t).flatMap { $0.isFinite ? .float($0) : nil }
        case .bool:
            switch t.lowercased() {
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: return nil
            }
        case .string: return .string(text)
        case .list:
            var body = Substring(t)
            if body.hasPrefix("["), body.hasSuffix("]") { body = body.dropFirst().dropLast() }
            let items = body.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            return .list(items == [""] ? [] : items)
        }
    }
}

/// The options of one plugin instance: every declared option, defaults applied, types checked.
public struct ResolvedOptions: Sendable {
    public let values: [String: OptionValue]

    /// Validates `given` (name -> text) against `specs`: unknown names (with the nearest
    /// declared name as a hint), values of the wrong type and missing required options fail.
    public init(plugin: String, specs: [OptionSpec], given: [String: String]) throws {
        var values: [String: OptionValue] = [:]
        for (name, text) in given.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw PluginError.unknownOption(plugin: plugin, option: name,
                                                suggestion: KeySuggester.nearest(to: name, among: specs.map(\.name)))
            }
            guard let value = OptionValue.parse(text, as: spec.type) else {
                throw PluginError.mistypedOption(plugin: plugin, option: name,
                                                 expected: Self.article(spec.type), value: text)
            }
            values[name] = value
        }
        for spec in specs where values[spec.name] == nil {
            guard let def = spec.defaultValue, let value = OptionValue.parse(def, as: spec.type) else {
                throw PluginError.missingOption(plugin: plugin, option: spec.name)
            }
            values[spec.name] = value
        }
        self.values = values
    }

    /// Parses `name=value` words (as given after `--option` on the command line).
    public static func pairs(_ words: [String], plugin: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for w in words {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw PluginError.mistypedOption(plugin: plugin, option: w, expected: "the form NAME=VALUE", value: w)
            }
            out[String(w[..<eq])] = String(w[w.index(after: eq)...])
        }
        return out
    }

    static func article(_ t: OptionType) -> String {
        switch t {
        case .int: return "an int"
        case .float: return "a float"
        case .bool: return "a bool (true/false)"
        case .string: return "a string"
        case .list: return "a list (a,b or [a, b])"
        }
    }
}
