import Foundation

/// Everything that can go wrong while finding, reading, composing or typing the configuration.
/// Each message says what was wrong and, where possible, how to fix it.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    /// No config directory in any of the places searched (listed).
    case configDirectoryNotFound(searched: [String])
    case unreadableFile(path: String, reason: String)
    case invalidYAML(path: String, reason: String)
    /// A command-line argument that is not `key=value`.
    case malformedOverride(argument: String, reason: String)
    /// A key that is not in the composed config (and was not added with `+`).
    case unknownKey(key: String, suggestion: String?)
    /// `+key=value` for a key that already exists.
    case keyAlreadyExists(key: String)
    /// `model=<name>` / `loss=<name>` with no `<group>/<name>.yaml`.
    case unknownGroupOption(group: String, option: String, available: [String])
    /// A section (mapping) given a scalar, e.g. `wandb=false`.
    case sectionAssignedScalar(key: String, value: String)
    /// `???` values left after composition.
    case missingValues([String])
    case interpolation(key: String, reason: String)
    case typeMismatch(key: String, expected: String, value: String)
    case invalidValue(key: String, value: String, reason: String)
    /// A TRL or transformers flag dpohost knows and does not offer, with the reason.
    case unsupportedFlag(flag: String, reason: String)

    public var description: String {
        switch self {
        case let .configDirectoryNotFound(searched):
            return "no config directory with a config.yaml found; looked in:\n"
                + searched.map { "  \($0)" }.joined(separator: "\n")
                + "\npass --config-dir <dir> or set DPOHOST_CONFIG_DIR"
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(reason)"
        case let .invalidYAML(path, reason):
            return "invalid YAML in \(path): \(reason)"
        case let .malformedOverride(argument, reason):
            return "malformed override '\(argument)': \(reason)"
        case let .unknownKey(key, suggestion):
            let text = "unknown config key '\(key)'"
            if let suggestion { return text + "; did you mean '\(suggestion)'?" }
            return text + " (to add a new key, write +\(key)=...)"
        case let .keyAlreadyExists(key):
            return "cannot add '+\(key)': the key already exists; set it with \(key)=... instead"
        case let .unknownGroupOption(group, option, available):
            let plugin = group == "loss" ? " and no loss plugin of that name" : ""
            return "unknown \(group) '\(option)' (no \(group)/\(option).yaml\(plugin)); available: "
                + (available.isEmpty ? "none" : available.joined(separator: ", "))
        case let .sectionAssignedScalar(key, value):
            return "'\(key)' is a section, not a value; cannot set it to '\(value)' (set its keys, e.g. \(key).<name>=...)"
        case let .missingValues(keys):
            return "missing required config values: " + keys.joined(separator: ", ")
                + " (set them on the command line, e.g. \(keys[0])=...)"
        case let .interpolation(key, reason):
            return "cannot resolve '\(key)': \(reason)"
        case let .typeMismatch(key, expected, value):
            return "config key '\(key)' expects \(expected), got '\(value)'"
        case let .invalidValue(key, value, reason):
            return "invalid value '\(value)' for '\(key)': \(reason)"
        case let .unsupportedFlag(flag, reason):
            return "\(flag) is a TRL flag dpohost does not support: \(reason)"
        }
    }
}
