import Foundation

/// One node of a configuration tree, as read from YAML or a command-line override.
///
/// Its own type rather than `JSONValue` because a config needs two things JSON does not have:
/// Hydra's "missing" marker `???` and mappings that keep their key order (the effective config
/// is written back in the order of `config/config.yaml`).
public enum ConfigValue: Sendable, Equatable {
    case null
    /// Hydra's `???`: a value the user must supply.
    case missing
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case mapping(ConfigMapping)

    public var mappingValue: ConfigMapping? {
        if case let .mapping(m) = self { return m }
        return nil
    }

    public var listValue: [ConfigValue]? {
        if case let .list(l) = self { return l }
        return nil
    }

    /// The value at a dotted path (`["loss", "beta"]`), or nil if any step is absent.
    public func value(at path: [String]) -> ConfigValue? {
        var node = self
        for key in path {
            guard let next = node.mappingValue?[key] else { return nil }
            node = next
        }
        return node
    }

    /// Sets the value at a path, creating intermediate mappings where the path does not exist yet.
    /// A non-mapping node in the way is replaced (callers check existence first where that matters).
    public mutating func setValue(_ value: ConfigValue, at path: [String]) {
        guard let head = path.first else { self = value; return }
        var mapping = mappingValue ?? ConfigMapping()
        var child = mapping[head] ?? .mapping(ConfigMapping())
        child.setValue(value, at: Array(path.dropFirst()))
        mapping[head] = child
        self = .mapping(mapping)
    }

    /// Every path in the tree, mappings and leaves alike, dotted (`wandb`, `wandb.enabled`, ...).
    public var dottedPaths: [String] {
        var out: [String] = []
        func walk(_ node: ConfigValue, _ prefix: String) {
            guard case let .mapping(m) = node else { return }
            for (key, child) in m.entries {
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                out.append(path)
                walk(child, path)
            }
        }
        walk(self, "")
        return out
    }

    /// Dotted paths of every `???` left in the tree, in tree order (list items as `key[i]`).
    public var missingPaths: [String] {
        var out: [String] = []
        func walk(_ node: ConfigValue, _ path: String) {
            switch node {
            case .missing: out.append(path)
            case let .mapping(m):
                for (key, child) in m.entries { walk(child, path.isEmpty ? key : "\(path).\(key)") }
            case let .list(items):
                for (i, item) in items.enumerated() { walk(item, "\(path)[\(i)]") }
            default: break
            }
        }
        walk(self, "")
        return out
    }

    /// A short rendering for error messages: scalars as written, collections in flow style.
    public var displayText: String { flowText(.display) }

    /// How `flowText` writes strings and separates items: the YAML writer's flow style
    /// (`[a, "b c"]`, `{k: v}`) or error messages' short form (`[a,b c]`, `{k:v}`).
    struct FlowStyle: Sendable {
        /// A string scalar or a mapping's key as written.
        let string: @Sendable (String) -> String
        /// Between the items of a collection, and between a key and its value.
        let itemSeparator, keySeparator: String

        static let yaml = FlowStyle(string: YAMLScalarText.string, itemSeparator: ", ", keySeparator: ": ")
        static let display = FlowStyle(string: { $0 }, itemSeparator: ",", keySeparator: ":")
    }

    /// The value on one line, collections in flow style.
    func flowText(_ style: FlowStyle) -> String {
        switch self {
        case .null: return "null"
        case .missing: return "???"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d): return YAMLScalarText.double(d)
        case let .string(s): return style.string(s)
        case let .list(items): return "[" + items.map { $0.flowText(style) }.joined(separator: style.itemSeparator) + "]"
        case let .mapping(m):
            return "{" + m.entries.map { style.string($0.key) + style.keySeparator + $0.value.flowText(style) }
                .joined(separator: style.itemSeparator) + "}"
        }
    }

    /// What kind of value this is, for type-mismatch messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .missing: return "missing value"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .mapping: return "mapping"
        }
    }
}

/// A string-keyed mapping that remembers insertion order.
public struct ConfigMapping: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var storage: [String: ConfigValue] = [:]

    public init() {}

    public init(_ entries: [(String, ConfigValue)]) {
        for (k, v) in entries { self[k] = v }
    }

    /// Setting a new key appends it; setting nil removes it.
    public subscript(key: String) -> ConfigValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public var entries: [(key: String, value: ConfigValue)] {
        keys.map { ($0, storage[$0]!) }
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// Equal when they hold the same keys and values; order is presentation only.
    public static func == (a: ConfigMapping, b: ConfigMapping) -> Bool {
        a.storage == b.storage
    }
}
