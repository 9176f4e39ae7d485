import Foundation
import HostUtility

/// Composes the config tree the way Hydra does for the reference:
/// 1. `config.yaml` and the group files named by its `defaults` list (`model`, `loss`), each group
///    option chosen by the user file or the command line REPLACING the default option's node;
/// 2. the user's `--config` file merged over that;
/// 3. command-line overrides, in order.
/// Group choices are settled before any dotted override, so `loss.beta=0.1 loss=dpo` works.
struct ConfigComposer {
    /// Directories searched for `<group>/<option>.yaml`, the config directory first.
    let searchPath: [URL]
    let primary: ConfigMapping
    let defaults: [DefaultsEntry]
    /// The node of a group option that has no `<group>/<option>.yaml` (a loss plugin's own
    /// options with their defaults), or nil.
    let groupDefaults: ConfigLoader.GroupDefaults

    enum DefaultsEntry: Equatable {
        case primary
        case group(name: String, option: String?)
    }

    init(configDirectory: URL, extraSearchPath: [URL], groupDefaults: ConfigLoader.GroupDefaults = .init()) throws {
        searchPath = [configDirectory] + extraSearchPath
        self.groupDefaults = groupDefaults
        let file = configDirectory.appendingPathComponent("config.yaml")
        guard case var .mapping(root) = try YAMLReader.read(file: file) else {
            throw ConfigError.invalidYAML(path: file.path, reason: "the top level must be a mapping")
        }
        let list = root["defaults"]
        root["defaults"] = nil
        primary = root
        defaults = try Self.parseDefaults(list, source: file.path)
    }

    var groupNames: [String] {
        defaults.compactMap { if case let .group(name, _) = $0 { return name } else { return nil } }
    }

    /// Option names of a group: the `*.yaml` files in `<dir>/<group>/` over the search path, and
    /// the group's options without a file (loss plugins).
    func options(of group: String) -> [String] {
        var names = Set(groupDefaults.nodes[group]?.keys.map { $0 } ?? [])
        for dir in searchPath {
            let groupDir = dir.appendingPathComponent(group)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: groupDir.path)) ?? []
            for f in files where f.hasSuffix(".yaml") { names.insert(String(f.dropLast(5))) }
        }
        return names.sorted()
    }

    func compose(userFile: ConfigValue?, userFileSource: String, overrides: [ConfigOverride]) throws -> (ConfigValue, [String]) {
        var warnings: [String] = []
        var choices: [String: String?] = [:]
        for case let .group(name, option) in defaults { choices[name] = option }

        // The user file may choose groups (`loss: dpo` or its own defaults list) and set values.
        var userValues = ConfigMapping()
        if let userFile {
            guard case let .mapping(m) = userFile else {
                throw ConfigError.invalidYAML(path: userFileSource, reason: "the top level must be a mapping")
            }
            for (key, value) in m.entries {
                if key == "defaults" {
                    for case let .group(name, option) in try Self.parseDefaults(value, source: userFileSource) {
                        guard choices.keys.contains(name) else {
                            throw ConfigError.unknownKey(key: name, suggestion: KeySuggester.nearest(to: name, among: groupNames))
                        }
                        choices[name] = option
                    }
                } else if key == "hydra" {
                    warnings.append("ignored the 'hydra' section of \(userFileSource): dpohost has no Hydra runtime settings")
                } else if choices.keys.contains(key), let option = Self.optionName(value) {
                    choices[key] = option
                } else {
                    userValues[key] = value
                }
            }
        }

        // A list choice (`loss=[dpo,sft]`) combines several options of one group (multi-loss).
        var listChoices: [String: [String]] = [:]
        var dotted: [ConfigOverride] = []
        for o in overrides {
            if o.path.first == "hydra" {
                warnings.append("ignored '\(o.argument)': dpohost has no Hydra runtime settings")
            } else if o.action == .set, o.path.count == 1, choices.keys.contains(o.path[0]) {
                if case .mapping = o.value {
                    dotted.append(o)
                } else if let list = o.value.listValue, !list.isEmpty,
                          case let names = list.compactMap({ Self.optionName($0) ?? nil }), names.count == list.count {
                    choices[o.path[0]] = names[0]
                    listChoices[o.path[0]] = names.count > 1 ? names : nil
                } else if let option = Self.optionName(o.value) {
                    choices[o.path[0]] = option
                    listChoices[o.path[0]] = nil
                } else {
                    throw ConfigError.invalidValue(key: o.path[0], value: o.value.displayText,
                                                   reason: "choose one of: " + options(of: o.path[0]).joined(separator: ", "))
                }
            } else {
                dotted.append(o)
            }
        }

        var tree = ConfigValue.mapping(ConfigMapping())
        for entry in defaults {
            switch entry {
            case .primary:
                Self.mergeLoose(&tree, .mapping(primary))
            case let .group(name, _):
                guard let option = choices[name] ?? nil else { continue }
                var node = tree.value(at: [name]) ?? .mapping(ConfigMapping())
                if let names = listChoices[name] {
                    // Later files first, so on a shared key (beta, ...) the FIRST listed option's
                    // value wins; `name` becomes the list and `weights` defaults to all 1.
                    for n in names.reversed() { Self.mergeLoose(&node, try load(group: name, option: n)) }
                    node.setValue(.list(names.map { .string($0) }), at: ["name"])
                    node.setValue(.list(names.map { _ in .double(1) }), at: ["weights"])
                } else {
                    Self.mergeLoose(&node, try load(group: name, option: option))
                }
                tree.setValue(node, at: [name])
            }
        }

        try mergeStrict(&tree, userValues, at: [], root: tree)
        for o in dotted { try apply(o, to: &tree) }
        return (tree, warnings)
    }

    private func load(group: String, option: String) throws -> ConfigValue {
        for dir in searchPath {
            let file = dir.appendingPathComponent(group).appendingPathComponent(option + ".yaml")
            if FileManager.default.fileExists(atPath: file.path) {
                let node = try YAMLReader.read(file: file)
                guard case .mapping = node else {
                    throw ConfigError.invalidYAML(path: file.path, reason: "a \(group) config must be a mapping")
                }
                return node
            }
        }
        if let node = groupDefaults.nodes[group]?[option] { return node }
        throw ConfigError.unknownGroupOption(group: group, option: option, available: options(of: group))
    }

    private func apply(_ o: ConfigOverride, to tree: inout ConfigValue) throws {
        let existing = tree.value(at: o.path)
        switch o.action {
        case .set:
            // Dataset plugins validate their own options (with suggestions), so any key may be
            // set under dataset_options.<name>.
            if existing == nil, o.path.first == "dataset_options", o.path.count >= 2 {
                try checkParents(of: o.path, in: tree)
                tree.setValue(o.value, at: o.path)
                return
            }
            guard let existing else {
                throw ConfigError.unknownKey(key: o.key, suggestion: KeySuggester.nearest(to: o.key, among: tree.dottedPaths))
            }
            if case let .mapping(section) = existing {
                guard case let .mapping(m) = o.value else {
                    throw ConfigError.sectionAssignedScalar(key: o.key, value: o.value.displayText)
                }
                var node = ConfigValue.mapping(section)
                try mergeStrict(&node, m, at: o.path, root: tree)
                tree.setValue(node, at: o.path)
            } else {
                tree.setValue(o.value, at: o.path)
            }
        case .add:
            if existing != nil { throw ConfigError.keyAlreadyExists(key: o.key) }
            try checkParents(of: o.path, in: tree)
            tree.setValue(o.value, at: o.path)
        case .upsert:
            try checkParents(of: o.path, in: tree)
            if var node = existing, case .mapping = node, case .mapping = o.value {
                Self.mergeLoose(&node, o.value)
                tree.setValue(node, at: o.path)
            } else {
                tree.setValue(o.value, at: o.path)
            }
        }
    }

    /// Adding `a.b.c` may create `a.b`, but never replaces a value on the way.
    private func checkParents(of path: [String], in tree: ConfigValue) throws {
        for n in 1..<path.count {
            if let node = tree.value(at: Array(path.prefix(n))), node.mappingValue == nil {
                throw ConfigError.invalidValue(key: path.prefix(n).joined(separator: "."), value: node.displayText,
                                               reason: "is a value, so '\(path.joined(separator: "."))' cannot be added under it")
            }
        }
    }

    /// Merges a user mapping into existing keys only; `+key` entries add new keys.
    private func mergeStrict(_ base: inout ConfigValue, _ overlay: ConfigMapping, at path: [String], root: ConfigValue) throws {
        for (rawKey, value) in overlay.entries {
            if rawKey.hasPrefix("+") {
                base.setValue(value, at: [String(rawKey.drop { $0 == "+" })])
                continue
            }
            let keyPath = path + [rawKey]
            guard let existing = base.value(at: [rawKey]) else {
                let dottedKey = keyPath.joined(separator: ".")
                throw ConfigError.unknownKey(key: dottedKey, suggestion: KeySuggester.nearest(to: dottedKey, among: root.dottedPaths))
            }
            if case .mapping = existing {
                guard case let .mapping(m) = value else {
                    throw ConfigError.sectionAssignedScalar(key: keyPath.joined(separator: "."), value: value.displayText)
                }
                var child = existing
                try mergeStrict(&child, m, at: keyPath, root: root)
                base.setValue(child, at: [rawKey])
            } else {
                base.setValue(value, at: [rawKey])
            }
        }
    }

    /// Hydra's composition merge: mappings merge key by key, anything else replaces.
    static func mergeLoose(_ base: inout ConfigValue, _ overlay: ConfigValue) {
        guard case var .mapping(b) = base, case let .mapping(o) = overlay else { base = overlay; return }
        for (key, value) in o.entries {
            var child = b[key] ?? .null
            if case .mapping = child, case .mapping = value { mergeLoose(&child, value) } else { child = value }
            b[key] = child
        }
        base = .mapping(b)
    }

    /// A group choice written as a scalar (`pythia28`, or `7b` read as text); nil for anything else.
    private static func optionName(_ value: ConfigValue) -> String?? {
        switch value {
        case .null: return .some(nil)
        case .string, .int, .double, .bool: return .some(value.displayText)
        default: return nil
        }
    }

    /// `[_self_, {model: blank_model}, {loss: sft}]`. Without `_self_` the primary config comes
    /// first here too (the reference lists it first; nothing in it overlaps the groups).
    static func parseDefaults(_ value: ConfigValue?, source: String) throws -> [DefaultsEntry] {
        guard let value else { return [.primary] }
        guard case let .list(items) = value else {
            throw ConfigError.invalidYAML(path: source, reason: "'defaults' must be a list")
        }
        var out: [DefaultsEntry] = []
        for item in items {
            switch item {
            case .string("_self_"):
                out.append(.primary)
            case let .mapping(m) where m.keys.count == 1:
                let name = m.keys[0]
                guard let option = optionName(m[name]!) else {
                    throw ConfigError.invalidYAML(path: source, reason: "defaults entry '\(name)' must name an option")
                }
                out.append(.group(name: name, option: option))
            default:
                throw ConfigError.invalidYAML(path: source, reason: "unsupported defaults entry '\(item.displayText)'")
            }
        }
        if !out.contains(.primary) { out.insert(.primary, at: 0) }
        return out
    }
}
