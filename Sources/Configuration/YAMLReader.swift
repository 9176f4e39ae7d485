import Foundation
import Yams

/// Reads YAML text into a `ConfigValue` tree. Unquoted scalars are typed by `ScalarParser`
/// (so `5e-7` is a float, as OmegaConf reads it, not a string as plain YAML 1.1 would);
/// quoted and block scalars are always strings.
public enum YAMLReader {
    public static func read(file url: URL) throws -> ConfigValue {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        return try read(text: text, source: url.path)
    }

    /// An empty document is an empty mapping.
    public static func read(text: String, source: String) throws -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError.invalidYAML(path: source, reason: oneLine(error))
        }
        guard let node else { return .mapping(ConfigMapping()) }
        return try convert(node, source: source)
    }

    /// Yams describes a syntax error over three lines, the last two an excerpt of the offending
    /// line, which can be the whole file; the error is one line naming line and column instead.
    static func oneLine(_ error: Error) -> String {
        guard let yaml = error as? YamlError else { return "\(error)" }
        switch yaml {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let within = context.map { "\($0.text) (line \($0.mark.line), column \($0.mark.column)): " } ?? ""
            return "line \(mark.line), column \(mark.column): \(within)\(problem)"
        default:
            let text = "\(yaml)".split(separator: "\n").joined(separator: " ")
            return text.count > 300 ? String(text.prefix(300)) + "…" : text
        }
    }

    private static func convert(_ node: Node, source: String) throws -> ConfigValue {
        switch node {
        case let .scalar(scalar):
            return scalar.style == .plain ? ScalarParser.parse(scalar.string) : .string(scalar.string)
        case let .sequence(sequence):
            return .list(try sequence.map { try convert($0, source: source) })
        case let .mapping(mapping):
            var out = ConfigMapping()
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.scalar?.string else {
                    throw ConfigError.invalidYAML(path: source, reason: "mapping keys must be plain scalars (at \(keyNode.mark.map { "\($0)" } ?? "?"))")
                }
                out[key] = try convert(valueNode, source: source)
            }
            return .mapping(out)
        case .alias:
            throw ConfigError.invalidYAML(path: source, reason: "YAML aliases are not supported (at \(node.mark.map { "\($0)" } ?? "?"))")
        }
    }
}

/// Writes a `ConfigValue` tree as block-style YAML in the tree's key order, readable by
/// `YAMLReader`, PyYAML and OmegaConf alike.
enum YAMLWriter {
    static func write(_ value: ConfigValue) -> String {
        guard case let .mapping(m) = value else { return flow(value) + "\n" }
        var lines: [String] = []
        mapping(m, indent: "", into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func mapping(_ m: ConfigMapping, indent: String, into lines: inout [String]) {
        for (key, value) in m.entries {
            let k = YAMLScalarText.string(key)
            switch value {
            case let .mapping(child) where !child.isEmpty:
                lines.append("\(indent)\(k):")
                mapping(child, indent: indent + "  ", into: &lines)
            case let .list(items) where !items.isEmpty:
                lines.append("\(indent)\(k):")
                list(items, indent: indent, into: &lines)
            default:
                lines.append("\(indent)\(k): \(flow(value))")
            }
        }
    }

    /// Lists go at the parent's indentation (`- item`), as OmegaConf writes them.
    private static func list(_ items: [ConfigValue], indent: String, into lines: inout [String]) {
        for item in items {
            switch item {
            case let .mapping(child) where !child.isEmpty:
                var sub: [String] = []
                mapping(child, indent: indent + "  ", into: &sub)
                sub[0] = indent + "- " + sub[0].dropFirst(indent.count + 2)
                lines += sub
            case let .list(inner) where !inner.isEmpty:
                lines.append(indent + "- " + flow(.list(inner)))
            default:
                lines.append(indent + "- " + flow(item))
            }
        }
    }

    /// Flow style (`[a, b]`, `{}`), used for empty and nested collections.
    private static func flow(_ v: ConfigValue) -> String { v.flowText(.yaml) }
}
