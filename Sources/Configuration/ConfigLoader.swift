import Foundation

/// The composed, resolved and typed configuration of one run.
public struct LoadedConfig: Sendable {
    public let config: TrainingConfig
    /// The resolved tree, in `config.yaml` order, with `eval_every` already adjusted.
    public let tree: ConfigValue
    /// Things the user should be told (e.g. the `eval_every` adjustment); the library prints nothing.
    public let warnings: [String]

    /// The resolved config as YAML, to print at start-up and write to `<run dir>/config.yaml`.
    public func effectiveYAML() -> String { YAMLWriter.write(tree) }
}

/// Loads the training configuration:
/// `try ConfigLoader(configDirectory: dir).load(arguments: ["loss=dpo", "loss.beta=0.1", ...])`.
public struct ConfigLoader: Sendable {
    public let configDirectory: URL
    /// More directories holding `<group>/<option>.yaml` (e.g. shipped by plugins), after `configDirectory`.
    public let extraSearchPath: [URL]
    public let environment: ConfigEnvironment
    /// Group options without a YAML file, e.g. `loss=NAME` for a loss plugin that ships none:
    /// `nodes["loss"]["NAME"]` is `{name: NAME, option: default, ...}` from the options the plugin
    /// declares. A YAML file of the same name wins.
    public struct GroupDefaults: Sendable {
        public var nodes: [String: [String: ConfigValue]]
        public init(nodes: [String: [String: ConfigValue]] = [:]) { self.nodes = nodes }
    }
    public let groupDefaults: GroupDefaults

    public init(configDirectory: URL, extraSearchPath: [URL] = [], environment: ConfigEnvironment = .current(),
                groupDefaults: GroupDefaults = GroupDefaults()) {
        self.configDirectory = configDirectory
        self.extraSearchPath = extraSearchPath
        self.environment = environment
        self.groupDefaults = groupDefaults
    }

    /// Composes `config.yaml`, the chosen groups, `userConfigFile` (a YAML file, relative to the
    /// current directory) and the `key=value` arguments; checks for `???`; resolves `${...}`;
    /// rounds `eval_every`; and reads the typed config.
    /// `worldSize`: the processes of the run (MPI), which TRL's per-device batch sizes multiply.
    public func load(arguments: [String], userConfigFile: String? = nil, worldSize: Int = 1) throws -> LoadedConfig {
        var (tree, warnings) = try compose(arguments: arguments, userConfigFile: userConfigFile)

        let missing = tree.missingPaths
        if !missing.isEmpty { throw ConfigError.missingValues(missing) }
        tree = try Interpolator(root: tree, environment: environment).resolveAll()
        if let warning = try EvalEveryRounding.apply(to: &tree) { warnings.append(warning) }
        let config = try TrainingConfig(tree: tree, worldSize: worldSize)
        // The effective config (config.yaml, the resume check) holds the batch sizes the run uses.
        tree.setValue(.int(config.batchSize), at: ["batch_size"])
        tree.setValue(.int(config.evalBatchSize), at: ["eval_batch_size"])
        return LoadedConfig(config: config, tree: tree, warnings: warnings)
    }

    /// The composed tree before the missing-value check and interpolation (for `--help`-style listings).
    public func compose(arguments: [String], userConfigFile: String? = nil) throws -> (ConfigValue, [String]) {
        let overrides = try arguments.map(ConfigOverride.init(parsing:))
        var userTree: ConfigValue?
        var userSource = ""
        if let userConfigFile {
            let url = URL(fileURLWithPath: environment.absolute(userConfigFile))
            userSource = url.path
            userTree = try YAMLReader.read(file: url)
        }
        let composer = try ConfigComposer(configDirectory: configDirectory, extraSearchPath: extraSearchPath, groupDefaults: groupDefaults)
        return try composer.compose(userFile: userTree, userFileSource: userSource, overrides: overrides)
    }

    /// The options of a config group (`model`, `loss`), e.g. for help text.
    public func options(of group: String) throws -> [String] {
        try ConfigComposer(configDirectory: configDirectory, extraSearchPath: extraSearchPath).options(of: group)
    }
}

/// The reference evaluates when the example counter is a multiple of `eval_every`, which only
/// happens if `eval_every` is a multiple of `batch_size`; like the reference, round it down.
/// Below one batch the reference would divide by zero later, so it becomes one batch instead.
enum EvalEveryRounding {
    static func apply(to tree: inout ConfigValue) throws -> String? {
        guard case let .int(evalEvery)? = tree.value(at: ["eval_every"]),
              case let .int(batchSize)? = tree.value(at: ["batch_size"]), batchSize > 0, evalEvery > 0,
              evalEvery % batchSize != 0 else { return nil }
        let rounded = max(batchSize, evalEvery - evalEvery % batchSize)
        tree.setValue(.int(rounded), at: ["eval_every"])
        return "eval_every (\(evalEvery)) is not a multiple of batch_size (\(batchSize)); using eval_every=\(rounded)"
    }
}

/// Splits a `train` command line into the config options and the overrides:
/// `--config-dir DIR`, `--config FILE` (also `--opt=value`), and everything else as `key=value`.
public struct ConfigCommandLine: Sendable, Equatable {
    public var configDirectory: String?
    public var userConfigFile: String?
    public var overrides: [String]

    public init(_ arguments: [String]) throws {
        configDirectory = nil
        userConfigFile = nil
        overrides = []
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            var value: String?
            var flag = ""
            for candidate in ["--config-dir", "--config"] {
                if arg == candidate {
                    guard i + 1 < arguments.count else {
                        throw ConfigError.malformedOverride(argument: arg, reason: "needs a value")
                    }
                    i += 1
                    (flag, value) = (candidate, arguments[i])
                    break
                } else if arg.hasPrefix(candidate + "=") {
                    (flag, value) = (candidate, String(arg.dropFirst(candidate.count + 1)))
                    break
                }
            }
            switch flag {
            case "--config-dir": configDirectory = value
            case "--config": userConfigFile = value
            default: overrides.append(arg)
            }
            i += 1
        }
    }
}
