/// Every way loading, configuring or running a plugin can fail; each case reads as one clear
/// sentence naming the file, plugin or option involved, so the CLI can print it as is.
public enum PluginError: Error, Equatable, CustomStringConvertible {
    case notSharedObject(path: String, reason: String)
    case missingEntryPoint(path: String, symbol: String)
    case abiMismatch(path: String, found: UInt32, supported: ClosedRange<UInt32>)
    case badDescriptor(path: String, detail: String)
    /// A plugin callback returned an error status; `message` is the plugin's own.
    case pluginFailed(plugin: String, call: String, status: Int32, message: String)
    case notFound(kind: PluginKind?, name: String, available: [String])
    case ambiguous(kind: PluginKind, name: String, paths: [String])
    case unknownOption(plugin: String, option: String, suggestion: String?)
    case mistypedOption(plugin: String, option: String, expected: String, value: String)
    case missingOption(plugin: String, option: String)
    case badBundle(path: String, detail: String)
    case checksumMismatch(bundle: String, file: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .notSharedObject(path, reason):
            return "\(path) is not a loadable shared object: \(reason)"
        case let .missingEntryPoint(path, symbol):
            return "\(path) is not a dpohost plugin: it does not export '\(symbol)'"
        case let .abiMismatch(path, found, supported):
            let which = found > supported.upperBound ? "newer" : "older"
            return "\(path) was built for plugin ABI \(found), \(which) than this dpohost supports "
                + "(\(supported.lowerBound)...\(supported.upperBound)); rebuild it against this SDK"
        case let .badDescriptor(path, detail):
            return "\(path) has an invalid plugin descriptor: \(detail)"
        case let .pluginFailed(plugin, call, status, message):
            return "plugin '\(plugin)' failed in \(call) (status \(status)): \(message)"
        case let .notFound(kind, name, available):
            let list = available.isEmpty ? "none loaded" : available.joined(separator: ", ")
            return "no \(kind.map { "\($0) " } ?? "")plugin named '\(name)' (available: \(list))"
        case let .ambiguous(kind, name, paths):
            return "\(paths.count) \(kind) plugins are named '\(name)': \(paths.joined(separator: ", ")); "
                + "choose one with --plugin PATH"
        case let .unknownOption(plugin, option, suggestion):
            let hint = suggestion.map { "; did you mean '\($0)'?" } ?? ""
            return "plugin '\(plugin)' has no option '\(option)'\(hint)"
        case let .mistypedOption(plugin, option, expected, value):
            return "option '\(option)' of plugin '\(plugin)' expects \(expected), got '\(value)'"
        case let .missingOption(plugin, option):
            return "plugin '\(plugin)' requires option '\(option)'"
        case let .badBundle(path, detail):
            return "bundle \(path): \(detail)"
        case let .checksumMismatch(bundle, file, expected, actual):
            return "bundle \(bundle): checksum mismatch for \(file): manifest says \(expected), file has \(actual)"
        }
    }
}
