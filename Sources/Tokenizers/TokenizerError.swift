import Foundation

/// Why a tokenizer could not be loaded. Every message names the file (or folder) at fault.
public enum TokenizerError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The folder holds none of the file sets a tokenizer can be built from.
    case missingTokenizerFile(directory: String, expected: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A file is not valid JSON, or lacks or mistypes a field.
    case malformedFile(path: String, reason: String)
    /// The file is well formed but describes something this module does not implement.
    case unsupported(path: String, feature: String)
    /// A required special token (EOS) could not be resolved from any configuration file.
    case missingSpecialToken(name: String, directory: String)

    public var description: String {
        switch self {
        case let .missingTokenizerFile(directory, expected):
            return "no tokenizer file in \(directory): expected \(expected)"
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(reason)"
        case let .malformedFile(path, reason):
            return "malformed \(path): \(reason)"
        case let .unsupported(path, feature):
            return "unsupported tokenizer in \(path): \(feature)"
        case let .missingSpecialToken(name, directory):
            return "no \(name) token configured in \(directory) (tokenizer_config.json, "
                + "special_tokens_map.json or config.json)"
        }
    }

    public var errorDescription: String? { description }
}
